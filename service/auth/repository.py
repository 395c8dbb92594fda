"""SQL for credentials: looking them up on every request, and their lifecycle."""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import text, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.auth.models import GatewayKey, StaffToken
from service.db import run_sql

# One round trip: the key's enterprise if the key is live and the enterprise enabled, and the
# bookkeeping (the key's last use, the enterprise's last-seen time) written at most once per
# resolution window and with SKIP LOCKED: it never waits on a row someone else holds.
_GATEWAY_LOOKUP = text("""
    WITH found AS (
        SELECT g.id AS key_row, g.public_id, g.expires_at, g.last_used_at, e.id AS enterprise_id, e.code,
               e.region_code, e.last_seen_at
        FROM gateway_key AS g JOIN enterprise AS e ON e.id = g.enterprise_id
        WHERE g.key_hash = :key_hash AND g.revoked_at IS NULL AND (g.expires_at IS NULL OR g.expires_at > :now)
          AND e.disabled_at IS NULL
    ), stale_key AS (
        SELECT g.id FROM gateway_key AS g JOIN found ON found.key_row = g.id
        WHERE found.last_used_at IS NULL OR found.last_used_at < :stale_before
        FOR NO KEY UPDATE OF g SKIP LOCKED
    ), key_used AS (
        UPDATE gateway_key SET last_used_at = :now FROM stale_key WHERE gateway_key.id = stale_key.id
    ), stale_enterprise AS (
        SELECT e.id FROM enterprise AS e JOIN found ON found.enterprise_id = e.id
        WHERE found.last_seen_at IS NULL OR found.last_seen_at < :stale_before
        FOR NO KEY UPDATE OF e SKIP LOCKED
    ), seen AS (
        UPDATE enterprise SET last_seen_at = :now FROM stale_enterprise WHERE enterprise.id = stale_enterprise.id
    )
    SELECT enterprise_id, code, public_id, expires_at, region_code FROM found
""")
_STAFF_LOOKUP = text("""
    WITH found AS (
        SELECT id, public_id, name, role, region_prefix, expires_at, last_used_at FROM staff_token
        WHERE token_hash = :token_hash AND revoked_at IS NULL AND expires_at > :now
    ), stale AS (
        SELECT s.id FROM staff_token AS s JOIN found ON found.id = s.id
        WHERE found.last_used_at IS NULL OR found.last_used_at < :stale_before
        FOR NO KEY UPDATE OF s SKIP LOCKED
    ), used AS (
        UPDATE staff_token SET last_used_at = :now FROM stale WHERE staff_token.id = stale.id
    )
    SELECT id, public_id, name, role, region_prefix, expires_at FROM found
""")


async def live_gateway_key(session: AsyncSession, *, key_hash: str, now: datetime,
                           stale_before: datetime) -> tuple[int, str, str, datetime | None, str] | None:
    """(enterprise id, code, key id, expiry, region code) of a live key of an enabled enterprise, else None."""
    row = (await run_sql(session, _GATEWAY_LOOKUP,
                         {"key_hash": key_hash, "now": now, "stale_before": stale_before})).first()
    return None if row is None else (row[0], row[1], row[2], row[3], row[4])


async def live_staff_token(session: AsyncSession, *, token_hash: str, now: datetime,
                           stale_before: datetime) -> tuple[int, str, str, str, str, datetime] | None:
    """(id, token id, name, role, jurisdiction, expiry) of a live staff token, else None."""
    row = (await run_sql(session, _STAFF_LOOKUP,
                         {"token_hash": token_hash, "now": now, "stale_before": stale_before})).first()
    return None if row is None else (row[0], row[1], row[2], row[3], row[4], row[5])


async def is_gateway_key(session: AsyncSession, key_hash: str) -> bool:
    return (await session.exec(select(GatewayKey.id).where(GatewayKey.key_hash == key_hash))).first() is not None


async def is_staff_token(session: AsyncSession, token_hash: str) -> bool:
    return (await session.exec(select(StaffToken.id).where(StaffToken.token_hash == token_hash))).first() is not None


async def add_gateway_key(session: AsyncSession, *, enterprise_id: int, public_id: str, key_hash: str,
                          expires_at: datetime | None) -> GatewayKey:
    key = GatewayKey(enterprise_id=enterprise_id, public_id=public_id, key_hash=key_hash, expires_at=expires_at)
    session.add(key)
    await session.flush()
    return key


async def gateway_keys(session: AsyncSession, enterprise_id: int) -> Sequence[GatewayKey]:
    statement = (select(GatewayKey).where(col(GatewayKey.enterprise_id) == enterprise_id)
                 .order_by(col(GatewayKey.id)))
    return (await session.exec(statement)).all()


async def revoke_gateway_keys(session: AsyncSession, *, enterprise_id: int, now: datetime,
                              public_id: str | None = None) -> list[str]:
    """Revoke one live key of the enterprise (by its id) or all of them; returns the ids revoked."""
    statement = (update(GatewayKey)
                 .where(col(GatewayKey.enterprise_id) == enterprise_id, col(GatewayKey.revoked_at).is_(None))
                 .values(revoked_at=now).returning(col(GatewayKey.public_id)))
    if public_id is not None:
        statement = statement.where(col(GatewayKey.public_id) == public_id)
    return list((await session.exec(statement)).scalars().all())


async def add_staff(session: AsyncSession, *, public_id: str, name: str, role: str, region_prefix: str,
                    token_hash: str, expires_at: datetime, created_by: str) -> StaffToken:
    staff = StaffToken(public_id=public_id, name=name, role=role, region_prefix=region_prefix,
                       token_hash=token_hash, expires_at=expires_at, created_by=created_by)
    session.add(staff)
    await session.flush()
    return staff


async def staff_in(session: AsyncSession, region_prefix: str) -> Sequence[StaffToken]:
    """Tokens whose jurisdiction lies inside region_prefix."""
    statement = (select(StaffToken).where(col(StaffToken.region_prefix).startswith(region_prefix))
                 .order_by(col(StaffToken.id)))
    return (await session.exec(statement)).all()


async def staff_by_public_id(session: AsyncSession, public_id: str) -> StaffToken | None:
    return (await session.exec(select(StaffToken).where(StaffToken.public_id == public_id))).first()


async def revoke_staff(session: AsyncSession, *, token_id: int, now: datetime) -> None:
    statement = (update(StaffToken).where(col(StaffToken.id) == token_id, col(StaffToken.revoked_at).is_(None))
                 .values(revoked_at=now))
    await session.exec(statement)
