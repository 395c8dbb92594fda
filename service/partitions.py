"""Monthly partitions of the movement tables, by the Beijing day a pass counts on.

A month's partitions are named `movement_y2026m11` and `movement_version_y2026m11`. They are made
ahead of need by the maintenance task, and on demand when a batch brings a month that has none (a
backfill after a long outage, the first passes after an upgrade). Retention drops them whole
(retention.py): no row-by-row DELETE, no bloat.

A partition is made as a plain table and then attached: attaching takes only a SHARE UPDATE
EXCLUSIVE lock on the parent, so ingest into the other months goes on meanwhile (CREATE TABLE ...
PARTITION OF would wait for, and then block, every writer). A month is dropped by detaching it
CONCURRENTLY first, for the same reason.
"""

import re
from collections.abc import Iterable
from datetime import date, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from service.ingest.payloads import BEIJING

# Each partitioned table and the column its months are cut on.
PARTITIONED = {"movement": "pass_date", "movement_version": "record_pass_date"}
_NAME = re.compile(r"^(?P<table>[a-z_]+)_y(?P<year>\d{4})m(?P<month>\d{2})$")

# The months this process has seen exist; a month is only ever added to it after it was made.
_known: set[date] = set()


def month_of(day: date) -> date:
    return day.replace(day=1)


def beijing_month(moment: datetime) -> date:
    return month_of(moment.astimezone(BEIJING).date())


def month_start(month: date) -> datetime:
    """The instant a month begins in Beijing, where its days are cut."""
    return datetime(month.year, month.month, 1, tzinfo=BEIJING)


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def partition_name(table: str, month: date) -> str:
    return f"{table}_y{month.year:04d}m{month.month:02d}"


def is_partition(name: str) -> bool:
    """Whether a table is one of the monthly partitions (which the models do not list, being made at run time)."""
    found = _NAME.match(name)
    return found is not None and found["table"] in PARTITIONED


async def _tables(connection: AsyncConnection) -> set[str]:
    """Every monthly table there is, attached or not (a purge stopped between detaching and dropping)."""
    result = await connection.execute(text(
        "SELECT relname FROM pg_class WHERE relkind = 'r' AND relname ~ '_y[0-9]{4}m[0-9]{2}$'"))
    return {name for name in result.scalars() if is_partition(name)}


async def months(connection: AsyncConnection) -> list[date]:
    """The months that have a table of either partitioned table, oldest first."""
    found = [_NAME.match(name) for name in await _tables(connection)]
    return sorted({date(int(m["year"]), int(m["month"]), 1) for m in found if m is not None})


async def exists(connection: AsyncConnection, name: str) -> bool:
    return bool((await connection.execute(text("SELECT to_regclass(:name) IS NOT NULL"), {"name": name})).scalar())


async def ensure(engine: AsyncEngine, wanted: Iterable[date]) -> None:
    """Make the partitions of these months where missing. Each month in a transaction of its own, so what is
    made is visible to every other connection at once."""
    missing = sorted({month_of(m) for m in wanted} - _known)
    if not missing:
        return
    async with engine.connect() as connection:
        # Two workers making the same month meet here; the second finds it made.
        for month in missing:
            async with connection.begin():
                await connection.execute(text("SELECT pg_advisory_xact_lock(hashtext('hj1321 partitions'))"))
                existing = await _tables(connection)
                for table, column in PARTITIONED.items():
                    if partition_name(table, month) not in existing:
                        await _attach_new(connection, table, column, month)
            _known.add(month)


async def _attach_new(connection: AsyncConnection, table: str, column: str, month: date) -> None:
    name = partition_name(table, month)
    await connection.execute(text(
        f"CREATE TABLE {name} (LIKE {table} INCLUDING DEFAULTS INCLUDING GENERATED INCLUDING CONSTRAINTS)"))
    # Lets the attach skip its scan for rows outside the range (there are none in a new table anyway).
    await connection.execute(text(
        f"ALTER TABLE {name} ADD CONSTRAINT {name}_range "
        f"CHECK ({column} IS NOT NULL AND {column} >= '{month}' AND {column} < '{next_month(month)}')"))
    await connection.execute(text(
        f"ALTER TABLE {table} ATTACH PARTITION {name} FOR VALUES FROM ('{month}') TO ('{next_month(month)}')"))
    await connection.execute(text(f"ALTER TABLE {name} DROP CONSTRAINT {name}_range"))


async def drop(engine: AsyncEngine, month: date) -> None:
    """Detach and drop one month of both tables. Detaching CONCURRENTLY cannot run in a transaction."""
    _known.discard(month)
    async with engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        for table in PARTITIONED:
            name = partition_name(table, month)
            if not await exists(autocommit, name):
                continue
            pending = (await autocommit.execute(text(
                "SELECT inhdetachpending FROM pg_inherits WHERE inhrelid = CAST(:name AS regclass)"),
                {"name": name})).scalar()
            if pending is False:
                await autocommit.execute(text(f"ALTER TABLE {table} DETACH PARTITION {name} CONCURRENTLY"))
            elif pending:  # a concurrent detach that was interrupted
                await autocommit.execute(text(f"ALTER TABLE {table} DETACH PARTITION {name} FINALIZE"))
            await autocommit.execute(text(f"DROP TABLE {name}"))


def is_missing(exc: BaseException) -> bool:
    """Whether a statement failed for want of a month this process believed made (dropped behind its back)."""
    orig = getattr(exc, "orig", None)
    return getattr(orig, "sqlstate", None) == "23514" and "no partition of relation" in str(orig)


def forget() -> None:
    """Forget which months exist (after a migration or in tests that drop months behind this process)."""
    _known.clear()
