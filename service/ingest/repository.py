"""SQL for the record tables: one statement per batch and step, never one per record.

Rows travel as one array per column through unnest(), so a 500-record batch is a single round trip
and a single prepared statement whatever its size.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

import orjson
from sqlalchemy import ARRAY, TextClause, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import JSONB
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


@dataclass(frozen=True)
class _Statements:
    columns: tuple[str, ...]
    list_columns: frozenset[str]
    json_columns: frozenset[str]
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
    columns = tuple(c.name for c in data)
    # unnest() flattens multi-dimensional arrays, so list columns travel as comma-joined text.
    list_columns = frozenset(c.name for c in data if isinstance(c.type, ARRAY))
    json_columns = frozenset(c.name for c in data if isinstance(c.type, JSONB))

    def array_type(column: Any) -> str:
        if column.name in list_columns:
            return "text[]"
        return f"{column.type.compile(dialect=_DIALECT)}[]"

    def value(name: str) -> str:
        return f"string_to_array(u.{_q(name)}, ',')" if name in list_columns else f"u.{_q(name)}"

    unnest = ", ".join(f"CAST(:{c.name} AS {array_type(c)})" for c in data)
    alias = ", ".join(_q(c) for c in columns)
    insert = text(f"""
        INSERT INTO {table.name} (enterprise_id, version, received_at, first_received_at, {alias})
        SELECT :enterprise_id, 1, :now, :now, {", ".join(value(c) for c in columns)}
        FROM unnest({unnest}) AS u({alias})
        ON CONFLICT (enterprise_id, {key}) DO NOTHING
        RETURNING {key}
    """)
    # Sorted, so two batches touching the same keys lock them in the same order and cannot deadlock.
    lock = text(f"""
        SELECT id, {key}, content_hash, version, first_received_at FROM {table.name}
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
            {", ".join(f"{_q(c)} = {value(c)}" for c in columns)}
        FROM unnest(CAST(:ids AS bigint[]), {unnest}) AS u(id, {alias})
        WHERE cur.id = u.id
        RETURNING cur.id, cur.version
    """)
    return _Statements(columns, list_columns, json_columns, insert, lock, archive, update)


def _column_params(statements: _Statements, rows: Sequence[dict[str, Any]]) -> dict[str, list[Any]]:
    params: dict[str, list[Any]] = {}
    for column in statements.columns:
        values = [row[column] for row in rows]
        if column in statements.list_columns:
            values = [",".join(v) for v in values]
        elif column in statements.json_columns:
            values = [orjson.dumps(v).decode() for v in values]
        params[column] = values
    return params


async def insert_new(session: AsyncSession, kind: RecordKind, *, enterprise_id: int,
                     rows: Sequence[dict[str, Any]], now: datetime) -> set[str]:
    """Insert rows whose key is not stored yet, as version 1; returns the keys inserted."""
    statements = _statements(kind)
    params = {"enterprise_id": enterprise_id, "now": now, **_column_params(statements, rows)}
    result = await run_sql(session, statements.insert, params)
    return set(result.scalars().all())


async def lock_current(session: AsyncSession, kind: RecordKind, *, enterprise_id: int,
                       keys: Sequence[str]) -> dict[str, CurrentRow]:
    result = await run_sql(session, _statements(kind).lock, {"enterprise_id": enterprise_id, "keys": sorted(keys)})
    return {row[1]: CurrentRow(row[0], row[2], row[3], row[4]) for row in result.all()}


async def archive(session: AsyncSession, kind: RecordKind, *, ids: Sequence[int]) -> None:
    """Copy the current rows into the version table before they are replaced."""
    await run_sql(session, _statements(kind).archive, {"ids": list(ids)})


async def replace_current(session: AsyncSession, kind: RecordKind, *, ids: Sequence[int],
                          rows: Sequence[dict[str, Any]], now: datetime) -> dict[int, int]:
    """Make the rows the new current versions; returns id -> new version number."""
    statements = _statements(kind)
    params = {"ids": list(ids), "now": now, **_column_params(statements, rows)}
    result = await run_sql(session, statements.update, params)
    return {row[0]: row[1] for row in result.all()}
