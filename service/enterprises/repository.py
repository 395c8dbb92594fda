from datetime import datetime

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.enterprises.models import Enterprise


async def by_code(session: AsyncSession, code: str) -> Enterprise | None:
    return (await session.exec(select(Enterprise).where(Enterprise.code == code))).first()


async def add(session: AsyncSession, *, code: str, name: str, region_code: str, industry: str) -> Enterprise:
    enterprise = Enterprise(code=code, name=name, region_code=region_code, industry=industry)
    session.add(enterprise)
    await session.flush()
    return enterprise


async def record_heartbeat(session: AsyncSession, *, enterprise_id: int, now: datetime,
                           skew_seconds: float) -> None:
    statement = (update(Enterprise).where(col(Enterprise.id) == enterprise_id)
                 .values(last_heartbeat_at=now, clock_skew_seconds=skew_seconds, last_seen_at=now))
    await session.exec(statement)
