from datetime import datetime

from sqlalchemy import text, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.auth.models import GatewayKey, StaffToken
from service.db import run_sql
from service.enterprises.models import Enterprise

# One round trip on every gateway request: find the key's enterprise and note that it was seen.
# last_seen_at is written at most once per resolution window, and SKIP LOCKED: bookkeeping never waits
# on the enterprise row (a heartbeat or an admin may hold it); the next request will note it instead.
_GATEWAY_SEEN = text("""
    WITH found AS (
        SELECT e.id, e.code, e.last_seen_at FROM gateway_key AS g JOIN enterprise AS e ON e.id = g.enterprise_id
        WHERE g.key_hash = :key_hash AND g.revoked_at IS NULL
    ), stale AS (
        SELECT enterprise.id FROM enterprise JOIN found ON found.id = enterprise.id
        WHERE found.last_seen_at IS NULL OR found.last_seen_at < :stale_before
        FOR NO KEY UPDATE OF enterprise SKIP LOCKED
    ), touched AS (
        UPDATE enterprise SET last_seen_at = :now FROM stale WHERE enterprise.id = stale.id
    )
    SELECT id, code FROM found
""")


async def gateway_seen(session: AsyncSession, *, key_hash: str, now: datetime,
                       stale_before: datetime) -> tuple[int, str] | None:
    """(enterprise id, code) of a valid gateway key, marking the enterprise seen; None for no such key."""
    row = (await run_sql(session, _GATEWAY_SEEN,
                         {"key_hash": key_hash, "now": now, "stale_before": stale_before})).first()
    return None if row is None else (row[0], row[1])


async def gateway_by_hash(session: AsyncSession, key_hash: str) -> Enterprise | None:
    statement = (select(Enterprise).join(GatewayKey, col(GatewayKey.enterprise_id) == col(Enterprise.id))
                 .where(GatewayKey.key_hash == key_hash, col(GatewayKey.revoked_at).is_(None)))
    return (await session.exec(statement)).first()


async def staff_by_hash(session: AsyncSession, token_hash: str) -> StaffToken | None:
    statement = select(StaffToken).where(StaffToken.token_hash == token_hash,
                                         col(StaffToken.revoked_at).is_(None))
    return (await session.exec(statement)).first()


async def add_gateway_key(session: AsyncSession, *, enterprise_id: int, key_hash: str) -> None:
    session.add(GatewayKey(enterprise_id=enterprise_id, key_hash=key_hash))
    await session.flush()


async def revoke_gateway_keys(session: AsyncSession, *, enterprise_id: int, now: datetime) -> int:
    statement = (update(GatewayKey)
                 .where(col(GatewayKey.enterprise_id) == enterprise_id, col(GatewayKey.revoked_at).is_(None))
                 .values(revoked_at=now))
    result = await session.exec(statement)
    return int(result.rowcount)


async def add_staff(session: AsyncSession, *, name: str, role: str, region_prefix: str,
                    token_hash: str) -> StaffToken:
    staff = StaffToken(name=name, role=role, region_prefix=region_prefix, token_hash=token_hash)
    session.add(staff)
    await session.flush()
    return staff
