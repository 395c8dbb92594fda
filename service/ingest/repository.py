"""SQL for the record tables: one statement per batch and step, never one per record.

Rows travel as one JSON document read by json_to_recordset(): a 500-record batch is a single
parameter, encoded by orjson in C and parsed by PostgreSQL, which measured faster than binding one
array per column. JSON numbers keep the digits the gateway sent, so tonnes land in numeric exactly.
"""

from collections.abc import Sequence
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
    insert = text(f"""
        INSERT INTO {table.name} (enterprise_id, version, received_at, first_received_at, {alias})
        SELECT :enterprise_id, 1, :now, :now, {", ".join(value(c) for c in data)}
        FROM json_to_recordset(CAST(:rows AS json)) AS u({record_type})
        ON CONFLICT (enterprise_id, {key}) DO NOTHING
        RETURNING {key}
    """)
    # Sorted, so two batches touching the same keys lock them in the same order and cannot deadlock.
    day = _q(kind.day_column) if kind.day_column else "NULL::date"
    lock = text(f"""
        SELECT id, {key}, content_hash, version, first_received_at, {day} FROM {table.name}
        WHERE enterprise_id = :enterprise_id AND {key} = ANY(CAST(:keys AS text[]))
        ORDER BY {key} FOR UPDATE
    """)
    kept = [c.name for c in kind.version_table.columns if c.name not in ("id", kind.version_fk)]
    archive = text(f"""
        INSERT INTO {kind.version_table.name} ({kind.version_fk}, {", ".join(_q(c) for c in kept)})
        SELECT id, {", ".join(_q(c) for c in kept)} FROM {table.name} WHERE id = ANY(CAST(:ids AS bigint[]))
    """)
    update = text(f"""
        UPDATE {table.name} AS cur
        SET version = cur.version + 1, received_at = :now,
            {", ".join(f"{_q(c.name)} = {value(c)}" for c in data)}
        FROM json_to_recordset(CAST(:rows AS json)) AS u(id bigint, {record_type})
        WHERE cur.id = u.id
        RETURNING cur.id, cur.version
    """)
    return _Statements(insert, lock, archive, update)


def _encode(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"cannot store {type(value).__name__} as JSON")


def _rows_json(rows: Sequence[dict[str, Any]]) -> str:
    return orjson.dumps(rows, default=_encode).decode()


async def insert_new(session: AsyncSession, kind: RecordKind, *, enterprise_id: int,
                     rows: Sequence[dict[str, Any]], now: datetime) -> set[str]:
    """Insert rows whose key is not stored yet, as version 1; returns the keys inserted."""
    params = {"enterprise_id": enterprise_id, "now": now, "rows": _rows_json(rows)}
    result = await run_sql(session, _statements(kind).insert, params)
    return set(result.scalars().all())


async def lock_current(session: AsyncSession, kind: RecordKind, *, enterprise_id: int,
                       keys: Sequence[str]) -> dict[str, CurrentRow]:
    result = await run_sql(session, _statements(kind).lock, {"enterprise_id": enterprise_id, "keys": sorted(keys)})
    return {row[1]: CurrentRow(row[0], row[2], row[3], row[4], row[5]) for row in result.all()}


async def archive(session: AsyncSession, kind: RecordKind, *, ids: Sequence[int]) -> None:
    """Copy the current rows into the version table before they are replaced."""
    await run_sql(session, _statements(kind).archive, {"ids": list(ids)})


async def replace_current(session: AsyncSession, kind: RecordKind, *, ids: Sequence[int],
                          rows: Sequence[dict[str, Any]], now: datetime) -> dict[int, int]:
    """Make the rows the new current versions; returns id -> new version number."""
    with_ids = [{**row, "id": row_id} for row_id, row in zip(ids, rows, strict=True)]
    result = await run_sql(session, _statements(kind).update, {"now": now, "rows": _rows_json(with_ids)})
    return {row[0]: row[1] for row in result.all()}
