"""Retention: how long records are kept, and the purge that lets go of what is older.

Movements, with their versions, keys, day figures, manifests and the rail and belt volumes, are kept
HJ1321_RETENTION_MONTHS (24 by the standard) in whole months: a month goes only once its last day is
older than the window, so the whole window is always there. A month of movements goes by dropping its
partitions (partitions.py), its keys by their primary key, in short transactions. The ledgers' history
(versions superseded, and entries retired) is kept HJ1321_LEDGER_RETENTION_YEARS (5). A photo goes when
no kept record names it: its file is removed while its row is locked, then the row.

Every purge that removes anything writes an audit entry with what it removed.
"""

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from service import partitions
from service.audit import service as audit
from service.config import Settings
from service.errors import PhotoStoreUnavailable, ServiceError, database_failure, driver_error
from service.ingest.kinds import INPLANT_VEHICLES, NONROAD_MACHINERY, RecordKind
from service.ingest.payloads import BEIJING
from service.ingest.rules import months_before
from service.photos.store import PhotoStore

logger = logging.getLogger("hj1321.retention")

PURGE_ACTION = "retention.purge"
CHUNK = 10_000
PHOTO_CHUNK = 1_000
LEDGERS = (INPLANT_VEHICLES, NONROAD_MACHINERY)


@dataclass
class Horizon:
    keep_from: date  # the first day of the oldest month kept
    ledger_before: datetime  # ledger history superseded or retired before this goes

    def params(self) -> dict[str, Any]:
        return {"keep_from": self.keep_from, "keep_from_at": partitions.month_start(self.keep_from),
                "ledger_before": self.ledger_before}

    def as_json(self) -> dict[str, str]:
        return {"keepFrom": self.keep_from.isoformat(), "ledgerHistoryBefore": self.ledger_before.isoformat()}


@dataclass
class Report:
    horizon: Horizon
    months: list[date] = field(default_factory=list)  # movement months dropped (or to drop)
    removed: dict[str, int] = field(default_factory=dict)  # what -> rows

    def as_json(self) -> dict[str, Any]:
        return {**self.horizon.as_json(), "months": [m.strftime("%Y-%m") for m in self.months],
                "removed": self.removed}


def horizon(settings: Settings, now: datetime) -> Horizon:
    window_start = months_before(now.astimezone(BEIJING), settings.retention_months)
    return Horizon(keep_from=partitions.month_of(window_start.date()),
                   ledger_before=months_before(now.astimezone(UTC), settings.ledger_retention_years * 12))


def _ledger_photo_refs() -> str:
    """Every photo a kept ledger row (current or earlier version) names, as 'sha256:…' references."""
    parts = []
    for kind in LEDGERS:
        columns = ", ".join(column for _, column in kind.photo_fields)
        for table in (kind.table.name, kind.version_table.name):
            parts.append(f"SELECT ref FROM {table}, unnest(ARRAY[{columns}]) AS ref WHERE ref IS NOT NULL")
    return " UNION ".join(parts)


# A photo stays while the month it arrived in or the month of the latest record naming it (named_month: a
# movement's pass month or a ledger entry's arrival month, not written when it would be earlier than the
# arrival: photos/repository.py) is kept, or a kept ledger row names it. A record naming a photo while the
# purge below removes it either writes named_month first (the purge skips the locked row, or finds on locking
# it that it no longer qualifies) or waits for the purge and finds the photo gone (and holds its place as
# missing). Written as two index scans of named_month (a range, and IS NULL for photos no record named), not
# a scan of every photo: the maintenance task asks this every hour.
_PHOTOS_UNNAMED = f"""
    FROM photo AS p
    WHERE (p.named_month < :keep_from OR p.named_month IS NULL)
      AND coalesce(p.received_at, '-infinity') < :keep_from_at
      AND NOT EXISTS (SELECT FROM ({_ledger_photo_refs()}) AS ledger WHERE ledger.ref = 'sha256:' || p.sha256)
"""


def _superseded(kind: RecordKind) -> str:
    """Earlier ledger versions whose successor arrived before the horizon: out of force that long."""
    fk = kind.version_fk
    return f"""
        FROM {kind.version_table.name} AS v
        WHERE coalesce((SELECT min(n.received_at) FROM {kind.version_table.name} AS n
                        WHERE n.enterprise_id = v.enterprise_id AND n.{fk} = v.{fk} AND n.version > v.version),
                       (SELECT c.received_at FROM {kind.table.name} AS c
                        WHERE c.enterprise_id = v.enterprise_id AND c.id = v.{fk})) < :ledger_before
    """


def _retired(kind: RecordKind) -> str:
    return f"FROM {kind.table.name} AS c WHERE NOT c.active AND c.received_at < :ledger_before"


# (what, table, FROM … WHERE … of the rows it removes) for what goes row by row: all small beside movements.
# What follows the movements' months goes when a month does (a scan of day figures every hour would not
# be small); the command line sweeps it every time.
_FOLLOWING_MONTHS = [
    ("movement_day_stat", "movement_day_stat", "FROM movement_day_stat WHERE pass_date < :keep_from"),
    ("stat_dirty", "stat_dirty", "FROM stat_dirty WHERE pass_date < :keep_from"),
    ("manifest", "manifest", "FROM manifest WHERE manifest_date < :keep_from"),
    ("clean_transport_volume_version", "clean_transport_volume_version", """FROM clean_transport_volume_version
        WHERE (enterprise_id, clean_transport_volume_id) IN
            (SELECT enterprise_id, id FROM clean_transport_volume WHERE volume_date < :keep_from)"""),
    ("clean_transport_volume", "clean_transport_volume", "FROM clean_transport_volume WHERE volume_date < :keep_from"),
]
_LEDGER_HISTORY = [
    *((f"{kind.version_table.name}_superseded", kind.version_table.name, _superseded(kind)) for kind in LEDGERS),
    *((f"{kind.version_table.name}_retired", kind.version_table.name, f"""FROM {kind.version_table.name} AS v
        WHERE (v.enterprise_id, v.{kind.version_fk}) IN (SELECT c.enterprise_id, c.id {_retired(kind)})""")
      for kind in LEDGERS),
    *((f"{kind.table.name}_retired", kind.table.name, _retired(kind)) for kind in LEDGERS),
]


async def _count(connection: AsyncConnection, from_where: str, params: dict[str, Any]) -> int:
    return int((await connection.execute(text(f"SELECT count(*) {from_where}"), params)).scalar_one())


async def _rows_in(connection: AsyncConnection, table: str, month: date) -> int:
    """Rows of one month's table; 0 when it is not there (a purge stopped halfway dropped it already)."""
    name = partitions.partition_name(table, month)
    if not await partitions.exists(connection, name):
        return 0
    return await _count(connection, f"FROM {name}", {})


async def plan(engine: AsyncEngine, settings: Settings, now: datetime) -> Report:
    """What a purge now would remove, changing nothing."""
    report = Report(horizon(settings, now))
    params = report.horizon.params()
    async with engine.connect() as connection:
        report.months = [m for m in await partitions.months(connection) if m < report.horizon.keep_from]
        for table in partitions.PARTITIONED:
            report.removed[table] = sum([await _rows_in(connection, table, m) for m in report.months])
        report.removed["movement_key"] = report.removed["movement"]
        for what, _, from_where in _FOLLOWING_MONTHS + _LEDGER_HISTORY:
            report.removed[what] = await _count(connection, from_where, params)
        report.removed["photo"] = await _count(connection, _PHOTOS_UNNAMED, params)
    return report


async def purge(engine: AsyncEngine, settings: Settings, store: PhotoStore, now: datetime, *,
                actor: audit.Actor = audit.CLI, sweep: bool = True) -> Report:
    """Remove what is older than the windows; returns what was removed. Without `sweep`, what follows the
    movements' months is looked at only when a month goes."""
    report = Report(horizon(settings, now))
    try:
        await _remove(engine, store, report, sweep)
    except BaseException as exc:
        # What went before the failure went for good: it is in the audit log all the same, as a purge that failed.
        try:
            await _record(engine, actor, report, failure=exc)
        except Exception:
            logger.exception("the audit entry of a failed retention purge could not be written")
        raise
    await _record(engine, actor, report)
    return report


async def _remove(engine: AsyncEngine, store: PhotoStore, report: Report, sweep: bool) -> None:
    """Each step commits on its own; `report.removed` counts what each removed once it has."""
    params = report.horizon.params()
    async with engine.connect() as connection:
        report.months = [m for m in await partitions.months(connection) if m < report.horizon.keep_from]
    for month in report.months:
        for table in partitions.PARTITIONED:
            async with engine.connect() as connection:
                rows = await _rows_in(connection, table, month)
            report.removed[table] = report.removed.get(table, 0) + rows
        report.removed["movement_key"] = report.removed.get("movement_key", 0) + await _drop_keys(engine, month)
        await partitions.drop(engine, month)
    for what, table, from_where in (_FOLLOWING_MONTHS if sweep or report.months else []) + _LEDGER_HISTORY:
        report.removed[what] = await _delete(engine, table, from_where, params)
    await _purge_photos(engine, store, params, report)


async def _record(engine: AsyncEngine, actor: audit.Actor, report: Report,
                  failure: BaseException | None = None) -> None:
    """The purge's audit entry, when it removed anything; a failed one says why it stopped."""
    if not any(report.removed.values()):
        return
    after = report.as_json()
    status = 200
    if isinstance(failure, ServiceError):
        status, after["failed"] = failure.status_code, failure.message
    elif failure is not None and (kind := database_failure(failure)) is not None:
        # Classed and named as a request's answer and log line would class and name it.
        status, after["failed"] = 503, f"database {kind}: {driver_error(failure)}"
    elif failure is not None:
        status, after["failed"] = 500, type(failure).__name__
    async with AsyncSession(engine) as session:
        await audit.append(session, actor=actor, action=PURGE_ACTION, status=status, after=after,
                           rows=sum(report.removed.values()))
        await session.commit()
    logger.info("retention purge", extra={"retention": after})


async def _drop_keys(engine: AsyncEngine, month: date) -> int:
    """The keys of a month's movements, by their primary key, before its partition goes. A key whose record a
    correction moved into the window meanwhile no longer has this month's day, and stays."""
    name = partitions.partition_name("movement", month)
    async with engine.connect() as connection:
        if not await partitions.exists(connection, name):
            return 0
    removed = 0
    after: tuple[int, str] = (0, "")
    while True:
        async with engine.begin() as connection:
            keys = (await connection.execute(text(f"""
                SELECT enterprise_id, record_id FROM {name} WHERE (enterprise_id, record_id) > (:e, :r)
                ORDER BY enterprise_id, record_id LIMIT {CHUNK}"""), {"e": after[0], "r": after[1]})).all()
            if not keys:
                return removed
            result = await connection.execute(text("""
                DELETE FROM movement_key AS k
                USING unnest(CAST(:e AS integer[]), CAST(:r AS text[])) AS gone(enterprise_id, record_id)
                WHERE k.enterprise_id = gone.enterprise_id AND k.record_id = gone.record_id
                  AND k.pass_date >= :month AND k.pass_date < :next
            """), {"e": [k[0] for k in keys], "r": [k[1] for k in keys], "month": month,
                   "next": partitions.next_month(month)})
            removed += result.rowcount  # type: ignore[attr-defined]
            after = (keys[-1][0], keys[-1][1])


async def _delete(engine: AsyncEngine, table: str, from_where: str, params: dict[str, Any]) -> int:
    """Delete in short transactions of at most CHUNK rows, so no lock is held long and vacuum keeps up."""
    removed = 0
    while True:
        async with engine.begin() as connection:
            result = await connection.execute(text(
                f"DELETE FROM {table} WHERE ctid = ANY(ARRAY(SELECT ctid {from_where} LIMIT {CHUNK}))"), params)
        removed += result.rowcount  # type: ignore[attr-defined]
        if result.rowcount < CHUNK:  # type: ignore[attr-defined]
            return removed


async def _purge_photos(engine: AsyncEngine, store: PhotoStore, params: dict[str, Any], report: Report) -> None:
    """Lock a chunk of unnamed photos, remove their files, then their rows, and commit. An upload or a record
    naming one of them meanwhile waits for the lock and then finds no row: the photo is simply not held.
    A file the store fails to remove stops the purge, after the rows of the files removed before it go: a row
    says the bureau holds the photo, and must not outlive its file."""
    report.removed["photo"] = 0
    while True:
        failure: PhotoStoreUnavailable | None = None
        async with engine.begin() as connection:
            hashes = list((await connection.execute(text(
                f"SELECT p.sha256 {_PHOTOS_UNNAMED} ORDER BY p.sha256 LIMIT {PHOTO_CHUNK} FOR UPDATE OF p SKIP LOCKED"),
                params)).scalars())
            gone: list[str] = []
            for sha256 in hashes:
                try:
                    await store.delete(sha256)
                except PhotoStoreUnavailable as exc:
                    failure = exc
                    break
                gone.append(sha256)
            await connection.execute(text("DELETE FROM photo_enterprise WHERE sha256 = ANY(CAST(:h AS text[]))"),
                                     {"h": gone})
            await connection.execute(text("DELETE FROM photo WHERE sha256 = ANY(CAST(:h AS text[]))"), {"h": gone})
        report.removed["photo"] += len(gone)
        if failure is not None:
            raise failure
        if len(hashes) < PHOTO_CHUNK:
            return
