from datetime import datetime

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.auth.models import GatewayKey, StaffToken
from service.enterprises.models import Enterprise


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
