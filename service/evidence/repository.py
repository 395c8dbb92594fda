"""SQL for evidence: the current movements of a day, and every stored version of every record."""

from collections.abc import AsyncIterator, Sequence
from datetime import date
from typing import Any

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from service.db import run_sql
from service.ingest.kinds import RecordKind

# COLLATE "C": the bytewise order of the record ids' UTF-8, which a gateway can reproduce anywhere.
_DAY = text("""
    SELECT record_id, content_hash FROM movement WHERE enterprise_id = :e AND pass_date = :day
    ORDER BY record_id COLLATE "C"
""")


async def day_hashes(session: AsyncSession, *, enterprise_id: int, day: date) -> Sequence[Any]:
    return (await run_sql(session, _DAY, {"e": enterprise_id, "day": day})).all()


async def stored_versions(session: AsyncSession, kind: RecordKind, *, table: str, start: date | None,
                          end: date | None, chunk: int = 5000) -> AsyncIterator[Sequence[Any]]:
    """Rows of a current or version table (enterprise code, key, version, content_hash, items), in chunks,
    in the order of the natural key and version (what the current tables' keys index)."""
    columns = ", ".join(f't."{attribute}"' for _, attribute in kind.content_items)
    window = ""
    if kind.day_column and start is not None and end is not None:
        window = f'AND t."{kind.day_column}" BETWEEN :start AND :end'
    key = f't."{kind.key_column}"'
    statement = text(f"""
        SELECT t.enterprise_id, e.code AS enterprise_code, {key} AS record_key, t.version, t.content_hash,
               {columns}
        FROM {table} AS t JOIN enterprise AS e ON e.id = t.enterprise_id
        WHERE (t.enterprise_id, {key}, t.version) > (:enterprise_id, :key, :version) {window}
        ORDER BY t.enterprise_id, {key}, t.version LIMIT {chunk}
    """)
    after: dict[str, Any] = {"enterprise_id": 0, "key": "", "version": 0}
    while True:
        rows = (await run_sql(session, statement, {**after, "start": start, "end": end})).mappings()
        if not rows:
            return
        yield rows
        last = rows[-1]
        after = {"enterprise_id": last["enterprise_id"], "key": last["record_key"], "version": last["version"]}
