from datetime import datetime

from sqlalchemy import func, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.auth.models import GatewayKey
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


async def in_region(session: AsyncSession, region_prefix: str) -> list[tuple[Enterprise, int]]:
    """Enterprises whose region starts with the prefix, each with its number of live keys."""
    unexpired = or_(col(GatewayKey.expires_at).is_(None), col(GatewayKey.expires_at) > func.now())
    live = (select(func.count()).where(col(GatewayKey.enterprise_id) == col(Enterprise.id),
                                       col(GatewayKey.revoked_at).is_(None), unexpired)
            .scalar_subquery())
    statement = (select(Enterprise, live).where(col(Enterprise.region_code).startswith(region_prefix))
                 .order_by(col(Enterprise.code)))
    return [(enterprise, count) for enterprise, count in (await session.exec(statement)).all()]


async def change(session: AsyncSession, enterprise: Enterprise, **values: object) -> Enterprise:
    for name, value in values.items():
        setattr(enterprise, name, value)
    session.add(enterprise)
    await session.flush()
    return enterprise
