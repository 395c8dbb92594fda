"""SQL for the audit log: appending to the chain, reading it back, and the retention purge."""

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.audit.models import AuditEntry
from service.db import run_sql

# Writers take turns on the chain's head: the lock lives until their transaction ends, so the entry
# that reads the last hash is the next to be committed.
_CHAIN_LOCK = text("SELECT pg_advisory_xact_lock(1321, 1)")
_HEAD = text("SELECT hash FROM audit_entry ORDER BY id DESC LIMIT 1")
_NEXT_ID = text("SELECT nextval(pg_get_serial_sequence('audit_entry', 'id'))")
# The database lets rows go only through this statement, and only those older than 180 days (the
# trigger checks); the setting is local to the purging transaction.
_ALLOW_PURGE = text("SELECT set_config('hj1321.audit_purge', 'on', true)")
_PURGE = text("DELETE FROM audit_entry WHERE at < :before RETURNING id")
_FIRST = text("SELECT id, prev_hash FROM audit_entry ORDER BY id LIMIT 1")


async def chain_head(session: AsyncSession) -> tuple[int, str | None]:
    """Lock the chain for this transaction; returns the next entry's id and the last entry's hash."""
    await run_sql(session, _CHAIN_LOCK, {})
    last = (await run_sql(session, _HEAD, {})).scalar()
    next_id = (await run_sql(session, _NEXT_ID, {})).scalar_one()
    return int(next_id), last


async def add(session: AsyncSession, entry: AuditEntry) -> None:
    session.add(entry)
    await session.flush()


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
        statement = statement.where(col(AuditEntry.id) < before_id)
    statement = statement.order_by(col(AuditEntry.id).desc()).limit(limit)
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
