"""SQL for exports and audit samples."""

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.ingest.models import Movement

EXPORT_BATCH_ROWS = 2000

_EXPORT = text("""
    SELECT e.code, m.* FROM movement AS m JOIN enterprise AS e ON e.id = m.enterprise_id
    WHERE m.enterprise_id = ANY(CAST(:e AS integer[])) AND m.pass_time >= :start AND m.pass_time < :end
    ORDER BY m.enterprise_id, m.pass_time, m.id
""")


async def export_rows(engine: AsyncEngine, *, enterprise_ids: Sequence[int], start: datetime,
                      end: datetime) -> AsyncIterator[Sequence[Any]]:
    """Movement rows in chunks from a server-side cursor: a year of a plant never sits in memory at once.

    Its own connection, because the response streams after the request's session has committed.
    """
    async with engine.connect() as connection:
        result = await connection.stream(_EXPORT.execution_options(yield_per=EXPORT_BATCH_ROWS),
                                         {"e": list(enterprise_ids), "start": start, "end": end})
        async for partition in result.partitions(EXPORT_BATCH_ROWS):
            yield partition


async def audit_sample(session: AsyncSession, *, enterprise_id: int, start: datetime, end: datetime, n: int,
                       seed: int) -> Sequence[Movement]:
    """n records drawn by a hash of the seed and the record id: the same seed draws the same records."""
    order = text("md5(CAST(:seed AS text) || movement.record_id)").bindparams(seed=str(seed))
    statement = (select(Movement).where(col(Movement.enterprise_id) == enterprise_id,
                                        col(Movement.pass_time) >= start, col(Movement.pass_time) < end)
                 .order_by(order).limit(n))
    return (await session.exec(statement)).all()
