"""Evidence of what the bureau received: day digests a plant can compare with its own ledger (对账), and
the check that no stored row was edited behind the service's back."""

import hashlib
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from service.enterprises.models import Enterprise
from service.evidence import repository
from service.ingest.content import content_digest, receipt
from service.ingest.kinds import KINDS


async def day_digest(session: AsyncSession, *, enterprise: Enterprise, day: date) -> dict[str, Any]:
    """sha256 over `recordId TAB contentHash LF` of the day's current movements, sorted bytewise by id."""
    assert enterprise.id is not None
    rows = await repository.day_hashes(session, enterprise_id=enterprise.id, day=day)
    lines = "".join(f"{record_id}\t{receipt(digest)}\n" for record_id, digest in rows)
    return {"enterpriseCode": enterprise.code, "date": day.isoformat(), "records": len(rows),
            "digest": "sha256:" + hashlib.sha256(lines.encode()).hexdigest()}


@dataclass(frozen=True)
class Mismatch:
    kind: str
    table: str
    enterprise_code: str
    key: str
    version: int
    stored: str
    recomputed: str


async def verify(session: AsyncSession, *, start: date | None = None,
                 end: date | None = None) -> tuple[int, list[Mismatch]]:
    """Recompute the content hash of every stored version (current and earlier) from its columns."""
    checked = 0
    mismatches: list[Mismatch] = []
    for kind in KINDS.values():
        for table in (kind.table.name, kind.version_table.name):
            async for rows in repository.stored_versions(session, kind, table=table, start=start, end=end):
                for row in rows:
                    recomputed = content_digest(kind.content_items, row)
                    checked += 1
                    if recomputed != bytes(row["content_hash"]):
                        mismatches.append(Mismatch(kind.name, table, row["enterprise_code"], row["record_key"],
                                                   row["version"], receipt(bytes(row["content_hash"])),
                                                   receipt(recomputed)))
    return checked, mismatches
