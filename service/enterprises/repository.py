from datetime import datetime, timedelta

from sqlalchemy import or_, update
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


async def touch_last_seen(session: AsyncSession, *, enterprise_id: int, now: datetime,
                          resolution_seconds: int) -> None:
    # Written at most once per resolution window, so concurrent batches of one plant rarely queue
    # on the enterprise row.
    statement = (update(Enterprise)
                 .where(col(Enterprise.id) == enterprise_id,
                        or_(col(Enterprise.last_seen_at).is_(None),
                            col(Enterprise.last_seen_at) < now - timedelta(seconds=resolution_seconds)))
                 .values(last_seen_at=now))
    await session.exec(statement)


async def record_heartbeat(session: AsyncSession, *, enterprise_id: int, now: datetime,
                           skew_seconds: float) -> None:
    statement = (update(Enterprise).where(col(Enterprise.id) == enterprise_id)
                 .values(last_heartbeat_at=now, clock_skew_seconds=skew_seconds, last_seen_at=now))
    await session.exec(statement)
