"""SQL for the audit log: appending to the chain, reading it back, and the retention purge."""

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import text, tuple_
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.audit.models import AuditEntry
from service.db import run_sql

# Writers take turns on the chain's head row: an UPDATE waits for the previous writer's commit and
# then sees its result, so the entry that takes the next id also reads the last committed hash. The
# row stays locked until the writer's transaction ends.
_HEAD = text("UPDATE audit_chain SET last_id = last_id + 1 WHERE id = 1 RETURNING last_id, last_hash")
_APPEND = text("""
    WITH entry AS (
        INSERT INTO audit_entry (id, at, actor, actor_region, target_region, action, target, query, status, rows,
                                 client_ip, request_id, before, after, prev_hash, hash)
        VALUES (:id, :at, CAST(:actor AS jsonb), :actor_region, :target_region, :action, :target,
                CAST(:query AS jsonb), :status, :rows, :client_ip, :request_id, CAST(:before AS jsonb),
                CAST(:after AS jsonb), :prev_hash, :hash)
    )
    UPDATE audit_chain SET last_hash = :hash WHERE id = 1
""")
# The database lets rows go only through this statement, and only those older than 180 days (the
# trigger checks); the setting is local to the purging transaction.
_ALLOW_PURGE = text("SELECT set_config('hj1321.audit_purge', 'on', true)")
_PURGE = text("DELETE FROM audit_entry WHERE at < :before RETURNING id")
_FIRST = text("SELECT id, prev_hash FROM audit_entry ORDER BY id LIMIT 1")


async def chain_head(session: AsyncSession) -> tuple[int, str]:
    """Take the chain's head for this transaction; returns the new entry's id and the last entry's hash."""
    row = (await run_sql(session, _HEAD, {})).one()
    return int(row[0]), str(row[1])


async def add(session: AsyncSession, entry: AuditEntry) -> None:
    def as_json(value: Any) -> str | None:
        return None if value is None else orjson.dumps(value).decode()

    await run_sql(session, _APPEND, {
        "id": entry.id, "at": entry.at, "actor": as_json(entry.actor), "actor_region": entry.actor_region,
        "target_region": entry.target_region, "action": entry.action, "target": entry.target,
        "query": as_json(entry.query), "status": entry.status, "rows": entry.rows, "client_ip": entry.client_ip,
        "request_id": entry.request_id, "before": as_json(entry.before), "after": as_json(entry.after),
        "prev_hash": entry.prev_hash, "hash": entry.hash})


def _visible(statement: Any, region_prefix: str) -> Any:
    if not region_prefix:
        return statement
    return statement.where(col(AuditEntry.actor_region).startswith(region_prefix)
                           | col(AuditEntry.target_region).startswith(region_prefix))


async def page(session: AsyncSession, *, region_prefix: str, start: datetime, end: datetime, actor: str | None,
               action: str | None, before_id: int | None, limit: int) -> Sequence[AuditEntry]:
    """Newest first, inside the auditor's jurisdiction."""
    statement = select(AuditEntry).where(col(AuditEntry.at) >= start, col(AuditEntry.at) < end)
    statement = _visible(statement, region_prefix)
    if actor is not None:
        statement = statement.where(AuditEntry.actor["id"].astext == actor)  # type: ignore[index]
    if action is not None:
        statement = statement.where(col(AuditEntry.action) == action)
    if before_id is not None:
        # The cursor's entry purged since (and the older ones behind it with it), its `at` is NULL: no rows.
        cursor = aliased(AuditEntry)
        cursor_at = select(cursor.at).where(col(cursor.id) == before_id).scalar_subquery()
        statement = statement.where(tuple_(col(AuditEntry.at), col(AuditEntry.id)) < tuple_(cursor_at, before_id))
    statement = statement.order_by(col(AuditEntry.at).desc(), col(AuditEntry.id).desc()).limit(limit)
    return (await session.exec(statement)).all()


async def stream(session: AsyncSession, *, region_prefix: str | None = None, start: datetime | None = None,
                 end: datetime | None = None, chunk: int = 2000) -> AsyncIterator[Sequence[AuditEntry]]:
    """Every entry in id order, a chunk at a time (keyset, so a long log never sits in memory)."""
    last = 0
    while True:
        statement = select(AuditEntry).where(col(AuditEntry.id) > last)
        if region_prefix is not None:
            statement = _visible(statement, region_prefix)
        if start is not None:
            statement = statement.where(col(AuditEntry.at) >= start)
        if end is not None:
            statement = statement.where(col(AuditEntry.at) < end)
        rows = (await session.exec(statement.order_by(col(AuditEntry.id)).limit(chunk))).all()
        if not rows:
            return
        yield rows
        last = rows[-1].id or last


async def purge(session: AsyncSession, *, before: datetime) -> int:
    await run_sql(session, _ALLOW_PURGE, {})
    return len((await run_sql(session, _PURGE, {"before": before})).all())


async def first(session: AsyncSession) -> tuple[int, str] | None:
    row = (await run_sql(session, _FIRST, {})).first()
    return None if row is None else (row[0], row[1])
