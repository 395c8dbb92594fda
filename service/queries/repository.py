"""SQL for what bureau staff read: enterprises, movements and their versions, the ledgers."""

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import tuple_
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service import partitions
from service.db import planned_for_values
from service.enterprises.models import Enterprise
from service.ingest.models import Movement, MovementVersion


async def enterprises_in(session: AsyncSession, region_prefix: str) -> Sequence[Enterprise]:
    statement = (select(Enterprise).where(col(Enterprise.region_code).startswith(region_prefix))
                 .order_by(col(Enterprise.code)))
    return (await session.exec(statement)).all()


async def movements_page(session: AsyncSession, *, region_prefix: str, enterprise_id: int | None,
                         plate_no: str | None, start: datetime | None, end: datetime | None,
                         direction: str | None, emission_standard: str | None, late: bool | None,
                         after: tuple[datetime, int] | None, limit: int) -> list[tuple[Movement, str]]:
    """Newest pass first; `after` is the (pass_time, id) of the last row of the previous page.

    Read a month at a time, newest first, each statement from one month's partition, until the page is full:
    a page is nearly always found in the newest month or two, where one statement over every month would
    descend each month's index and merge them (two years: 24 descents, most of them read cold)."""
    statement = select(Movement, Enterprise.code).join(Enterprise, col(Enterprise.id) == col(Movement.enterprise_id))
    if enterprise_id is not None:
        statement = statement.where(col(Movement.enterprise_id) == enterprise_id)
    else:
        statement = statement.where(col(Enterprise.region_code).startswith(region_prefix))
    for column, value in ((Movement.plate_no, plate_no), (Movement.direction, direction),
                          (Movement.emission_standard, emission_standard), (Movement.late, late)):
        if value is not None:
            statement = statement.where(col(column) == value)
    newest: date | None = None
    if start is not None:
        statement = statement.where(col(Movement.pass_time) >= start)
    if end is not None:
        statement = statement.where(col(Movement.pass_time) < end)
        newest = partitions.beijing_month(end - timedelta(microseconds=1))
    if after is not None:
        # Keyset, not OFFSET: rows inserted meanwhile (a 补传 backfill, say) never shift a page.
        statement = statement.where(tuple_(col(Movement.pass_time), col(Movement.id)) < tuple_(*after))
        newest = min(newest or date.max, partitions.beijing_month(after[0]))
    oldest = partitions.beijing_month(start) if start is not None else date.min
    rows: list[tuple[Movement, str]] = []
    months = [month for month in reversed(await partitions.months(await session.connection()))
              if (newest is None or month <= newest) and month >= oldest]
    # A generic plan reads the plant's whole month through the pass_date index and sorts it.
    async with planned_for_values(session):
        for month in months:
            in_month = (statement.where(col(Movement.pass_date) >= month,
                                        col(Movement.pass_date) < partitions.next_month(month))
                        .order_by(col(Movement.pass_time).desc(), col(Movement.id).desc()).limit(limit - len(rows)))
            rows += (await session.exec(in_month)).all()  # type: ignore[arg-type]
            if len(rows) == limit:
                break
    return rows


async def movement(session: AsyncSession, movement_id: int) -> tuple[Movement, Enterprise] | None:
    statement = (select(Movement, Enterprise).join(Enterprise, col(Enterprise.id) == col(Movement.enterprise_id))
                 .where(col(Movement.id) == movement_id))
    return (await session.exec(statement)).first()  # type: ignore[return-value]


async def earlier_versions(session: AsyncSession, current: Movement) -> Sequence[MovementVersion]:
    # By the natural key and the record's day, so only the partition holding them is read.
    statement = (select(MovementVersion)
                 .where(col(MovementVersion.enterprise_id) == current.enterprise_id,
                        col(MovementVersion.record_id) == current.record_id,
                        col(MovementVersion.record_pass_date) == current.pass_date)
                 .order_by(col(MovementVersion.version)))
    return (await session.exec(statement)).all()


async def ledger(session: AsyncSession, table: type[SQLModel], enterprise_ids: Sequence[int]) -> Sequence[Any]:
    statement = (select(table).where(col(table.enterprise_id).in_(enterprise_ids))  # type: ignore[attr-defined]
                 .order_by(col(table.enterprise_id), col(table.env_reg_code)))  # type: ignore[attr-defined]
    return (await session.exec(statement)).all()
