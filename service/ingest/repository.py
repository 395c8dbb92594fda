"""SQL for the record tables: one statement per batch and step, never one per record.

Rows travel as one JSON document read by json_to_recordset(): a 500-record batch is a single
parameter, encoded by orjson in C and parsed by PostgreSQL, which measured faster than binding one
array per column. JSON numbers keep the digits the gateway sent, so tonnes land in numeric exactly.
The document is bound as bytes, as orjson writes it: bound as text, the driver would encode again the
string decoded from those bytes (half a megabyte of mostly Chinese text a batch), about 1.5 µs of the
worker's CPU a record for nothing.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Any

import orjson
from sqlalchemy import ARRAY, LargeBinary, TextClause, text
from sqlalchemy.dialects import postgresql
from sqlmodel.ext.asyncio.session import AsyncSession

from service.db import run_sql
from service.ingest.kinds import RecordKind
from service.stats import repository as stats

# Set by the statements themselves, not carried in the rows.
_META_COLUMNS = ("id", "enterprise_id", "version", "received_at", "first_received_at", "complete")
_DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]


@dataclass(frozen=True)
class CurrentRow:
    id: int
    content_hash: bytes
    version: int
    first_received_at: datetime
    day: date | None  # the kind's day column, before the update


@dataclass(frozen=True)
class _Statements:
    insert: TextClause
    lock: TextClause
    archive: TextClause
    update: TextClause
    read: TextClause | None = None  # the current rows of keys locked by `lock`, when that is a statement apart


# The rows parameter: UTF-8 bytes, which convert_from checks as PostgreSQL checks a text parameter.
_ROWS = "convert_from(CAST(:rows AS bytea), 'UTF8')::json"


def _q(name: str) -> str:
    return f'"{name}"'


@cache
def _statements(kind: RecordKind) -> _Statements:
    table, key = kind.table, _q(kind.key_column)
    data = [c for c in table.columns if c.name not in _META_COLUMNS]
    columns = [c.name for c in data]

    def json_type(column: Any) -> str:
        if isinstance(column.type, LargeBinary):
            return "text"  # hex: JSON has no bytes
        if isinstance(column.type, ARRAY):
            return "text[]"
        return str(column.type.compile(dialect=_DIALECT))

    def value(column: Any) -> str:
        return f"decode(u.{_q(column.name)}, 'hex')" if isinstance(column.type, LargeBinary) else f"u.{_q(column.name)}"

    record_type = ", ".join(f"{_q(c.name)} {json_type(c)}" for c in data)
    alias = ", ".join(_q(c) for c in columns)
    rows = f"json_to_recordset({_ROWS}) AS u({record_type})"
    day = _q(kind.day_column) if kind.day_column else "NULL::date"
    kept = [c.name for c in kind.version_table.columns if c.name not in ("id", kind.version_fk, "record_pass_date")]
    kept_columns = ", ".join(_q(c) for c in kept)
    assignments = ", ".join(f"{_q(c.name)} = {value(c)}" for c in data)
    if kind.key_model is None:
        return _Statements(
            insert=text(f"""
                INSERT INTO {table.name} (enterprise_id, version, received_at, first_received_at, {alias})
                SELECT :enterprise_id, 1, :now, :now, {", ".join(value(c) for c in data)} FROM {rows}
                ON CONFLICT (enterprise_id, {key}) DO NOTHING
                RETURNING {key}
            """),
            # Sorted, so two batches touching the same keys lock them in the same order and cannot deadlock.
            lock=text(f"""
                SELECT id, {key}, content_hash, version, first_received_at, {day} FROM {table.name}
                WHERE enterprise_id = :enterprise_id AND {key} = ANY(CAST(:keys AS text[]))
                ORDER BY {key} FOR UPDATE
            """),
            archive=text(f"""
                INSERT INTO {kind.version_table.name} ({kind.version_fk}, {kept_columns})
                SELECT id, {kept_columns} FROM {table.name}
                WHERE enterprise_id = :enterprise_id AND id = ANY(CAST(:ids AS bigint[]))
            """),
            update=text(f"""
                UPDATE {table.name} AS cur SET version = cur.version + 1, received_at = :now, {assignments}
                FROM json_to_recordset({_ROWS}) AS u(id bigint, {record_type})
                WHERE cur.enterprise_id = :enterprise_id AND cur.id = u.id
                RETURNING cur.id, cur.version
            """))
    # A partitioned kind: the key table decides what is new (its primary key is the natural key across
    # every partition), its row is the lock a correction takes, and its day says which partition to read.
    keys = kind.key_model.__table__.name  # type: ignore[attr-defined]
    at_key = f"cur.enterprise_id = :enterprise_id AND cur.{key} = u.{key} AND cur.{day} = u.old_day"
    return _Statements(
        # The days go dirty (stats) in the same statement when every row is new. The count waits for the last
        # row, so the days are locked after every key, as in a batch that marks them at its end.
        insert=text(f"""
            WITH u AS MATERIALIZED (SELECT * FROM {rows}),
            new_key AS (
                INSERT INTO {keys} (enterprise_id, {key}, {day}) SELECT :enterprise_id, {key}, {day} FROM u
                ON CONFLICT DO NOTHING RETURNING {key}),
            inserted AS (
                INSERT INTO {table.name} (enterprise_id, version, received_at, first_received_at, {alias})
                SELECT :enterprise_id, 1, :now, :now, {", ".join(value(c) for c in data)}
                FROM u JOIN new_key USING ({key})
                RETURNING {key}),
            marked AS ({stats.marking("(SELECT count(*) FROM inserted) = :row_count")})
            SELECT {key} FROM inserted
        """),
        # Two statements: a correction that moved a row to another month while we waited for its key is
        # visible only to a statement that starts after the wait.
        lock=text(f"""
            SELECT {key}, {day} FROM {keys} WHERE enterprise_id = :enterprise_id AND {key} = ANY(CAST(:keys AS text[]))
            ORDER BY {key} FOR UPDATE
        """),
        read=text(f"""
            SELECT cur.id, cur.{key}, cur.content_hash, cur.version, cur.first_received_at, cur.{day}
            FROM unnest(CAST(:keys AS text[]), CAST(:days AS date[])) AS k({key}, {day})
            JOIN {table.name} AS cur
                ON cur.enterprise_id = :enterprise_id AND cur.{key} = k.{key} AND cur.{day} = k.{day}
        """),
        # The earlier version goes where the record is going, with the record's other versions.
        archive=text(f"""
            INSERT INTO {kind.version_table.name} (record_pass_date, {kind.version_fk}, {kept_columns})
            SELECT u.new_day, cur.id, {", ".join(f"cur.{_q(c)}" for c in kept)}
            FROM json_to_recordset({_ROWS}) AS u({key} text, old_day date, new_day date)
            JOIN {table.name} AS cur ON {at_key}
        """),
        # A correction that changes the day moves the key's day and the record's versions with the row
        # (PostgreSQL moves an updated row to the partition of its new day).
        update=text(f"""
            WITH u AS MATERIALIZED (SELECT * FROM json_to_recordset({_ROWS})
                                    AS u(old_day date, {record_type})),
            moved_key AS (
                UPDATE {keys} AS cur SET {day} = u.{day} FROM u
                WHERE {at_key} AND u.{day} <> u.old_day),
            moved_versions AS (
                UPDATE {kind.version_table.name} AS v SET record_pass_date = u.{day} FROM u
                WHERE v.enterprise_id = :enterprise_id AND v.{key} = u.{key} AND v.record_pass_date = u.old_day
                  AND u.{day} <> u.old_day)
            UPDATE {table.name} AS cur SET version = cur.version + 1, received_at = :now, {assignments}
            FROM u WHERE {at_key}
            RETURNING cur.id, cur.version
        """))


def _encode(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"cannot store {type(value).__name__} as JSON")


def _rows_json(rows: Sequence[dict[str, Any]]) -> bytes:
    return orjson.dumps(rows, default=_encode)


async def insert_new(session: AsyncSession, kind: RecordKind, *, enterprise_id: int,
                     rows: Sequence[dict[str, Any]], now: datetime,
                     days: Iterable[tuple[int, date]] = ()) -> tuple[set[str], bool]:
    """Insert rows whose key is not stored yet, as version 1; returns the keys inserted, and whether `days`
    ((enterprise, day) pairs) were marked dirty with them: for a partitioned kind, when there are any and every
    row was new."""
    params: dict[str, Any] = {"enterprise_id": enterprise_id, "now": now, "rows": _rows_json(rows)}
    if kind.partitioned:
        params.update(stats.dirty_days(days), row_count=len(rows))
    result = await run_sql(session, _statements(kind).insert, params)
    inserted = set(result.scalars())
    return inserted, kind.partitioned and bool(params.get("e")) and len(inserted) == len(rows)


async def lock_current(session: AsyncSession, kind: RecordKind, *, enterprise_id: int,
                       keys: Sequence[str]) -> dict[str, CurrentRow]:
    """The stored rows of these keys, locked until the transaction ends (a key may have gone meanwhile)."""
    statements = _statements(kind)
    result = await run_sql(session, statements.lock, {"enterprise_id": enterprise_id, "keys": sorted(keys)})
    if statements.read is not None:
        locked = result.all()
        result = await run_sql(session, statements.read, {"enterprise_id": enterprise_id,
                                                          "keys": [row[0] for row in locked],
                                                          "days": [row[1] for row in locked]})
    return {row[1]: CurrentRow(row[0], row[2], row[3], row[4], row[5]) for row in result.all()}


async def archive(session: AsyncSession, kind: RecordKind, *, enterprise_id: int,
                  changed: Sequence[tuple[CurrentRow, dict[str, Any]]]) -> None:
    """Copy the current rows into the version table before they are replaced."""
    if kind.key_model is None:
        params: dict[str, Any] = {"enterprise_id": enterprise_id, "ids": [stored.id for stored, _ in changed]}
    else:
        params = {"enterprise_id": enterprise_id, "rows": _rows_json([
            {kind.key_column: row[kind.key_column], "old_day": stored.day, "new_day": row[kind.day_column or ""]}
            for stored, row in changed])}
    await run_sql(session, _statements(kind).archive, params)


async def replace_current(session: AsyncSession, kind: RecordKind, *, enterprise_id: int,
                          changed: Sequence[tuple[CurrentRow, dict[str, Any]]], now: datetime) -> dict[int, int]:
    """Make the rows the new current versions; returns id -> new version number."""
    if kind.key_model is None:
        rows = [{**row, "id": stored.id} for stored, row in changed]
    else:
        rows = [{**row, "old_day": stored.day} for stored, row in changed]
    params = {"enterprise_id": enterprise_id, "now": now, "rows": _rows_json(rows)}
    result = await run_sql(session, _statements(kind).update, params)
    return {row[0]: row[1] for row in result.all()}
