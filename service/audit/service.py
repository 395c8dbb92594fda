"""What an audit entry says, how it is chained, and how the chain is checked.

hash = sha256(prevHash + canonical JSON (RFC 8785) of the entry's public form without `hash`), hex;
the first entry's prevHash is 64 zeros. Anyone holding an export can recompute the chain.
"""

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from service.audit import repository
from service.audit.models import AuditEntry
from service.canonical import canonical_json

GENESIS = "0" * 64
PURGE_ACTION = "audit.purge"
MIN_RETENTION_DAYS = 180  # 网络安全法: network logs kept at least six months


@dataclass(frozen=True)
class Actor:
    type: str  # staff, gateway, cli, anonymous
    id: str | None = None
    name: str | None = None
    role: str | None = None
    region_code: str = ""

    def as_json(self) -> dict[str, Any]:
        return {"type": self.type, "id": self.id, "name": self.name, "role": self.role,
                "regionCode": self.region_code}


CLI = Actor(type="cli", id="cli", name="command line")
ANONYMOUS = Actor(type="anonymous")


def _time(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def public_form(entry: AuditEntry) -> dict[str, Any]:
    """The entry as the API, the CSV export and the hash see it."""
    return {"id": entry.id, "at": _time(entry.at), "actor": entry.actor, "action": entry.action,
            "target": entry.target, "targetRegion": entry.target_region, "query": entry.query,
            "status": entry.status, "rows": entry.rows, "clientIp": entry.client_ip, "requestId": entry.request_id,
            "before": entry.before, "after": entry.after, "prevHash": entry.prev_hash, "hash": entry.hash}


def chain_hash(entry: AuditEntry) -> str:
    content = public_form(entry)
    del content["hash"]
    return hashlib.sha256(entry.prev_hash.encode() + canonical_json(content)).hexdigest()


async def append(session: AsyncSession, *, actor: Actor, action: str, status: int, at: datetime | None = None,
                 target: str | None = None, target_region: str | None = None, query: dict[str, Any] | None = None,
                 rows: int | None = None, client_ip: str | None = None, request_id: str | None = None,
                 before: dict[str, Any] | None = None, after: dict[str, Any] | None = None) -> AuditEntry:
    """Add an entry at the head of the chain, in the session's transaction."""
    next_id, last = await repository.chain_head(session)
    # Stored at millisecond precision: the hash covers the time as written, so reading it back agrees.
    moment = (at or datetime.now(UTC)).astimezone(UTC)
    moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    entry = AuditEntry(id=next_id, at=moment, actor=actor.as_json(), actor_region=actor.region_code,
                       target_region=target_region, action=action, target=target, query=query or {},
                       status=status, rows=rows, client_ip=client_ip, request_id=request_id,
                       before=before, after=after, prev_hash=last, hash="")
    entry.hash = chain_hash(entry)
    await repository.add(session, entry)
    return entry


@dataclass(frozen=True)
class Break:
    id: int
    reason: str


async def verify(session: AsyncSession) -> tuple[int, Break | None]:
    """Recompute the chain; returns the entries checked and the first that does not hold, if any."""
    checked = 0
    previous: str | None = None
    anchors: dict[int, str] = {}  # first kept id -> the prevHash a purge recorded for it
    async for chunk in repository.stream(session):
        for entry in chunk:
            assert entry.id is not None
            if entry.action == PURGE_ACTION and entry.after and "firstKeptId" in entry.after:
                anchors[int(entry.after["firstKeptId"])] = str(entry.after["firstKeptPrevHash"])
            if previous is None:
                if entry.prev_hash != GENESIS and entry.prev_hash != anchors.get(entry.id):
                    # A purge anchor for this entry is recorded later in the chain: look ahead once.
                    anchored = await _purge_anchor(session, entry.id)
                    if anchored != entry.prev_hash:
                        return checked, Break(entry.id, "the chain starts without a recorded purge")
            elif entry.prev_hash != previous:
                return checked, Break(entry.id, "prevHash is not the previous entry's hash (an entry was removed "
                                                "or changed)")
            if chain_hash(entry) != entry.hash:
                return checked, Break(entry.id, "the entry's content does not match its hash (it was edited)")
            previous = entry.hash
            checked += 1
    return checked, None


async def _purge_anchor(session: AsyncSession, first_id: int) -> str | None:
    async for chunk in repository.stream(session):
        for entry in chunk:
            if entry.action == PURGE_ACTION and entry.after and entry.after.get("firstKeptId") == first_id:
                return str(entry.after["firstKeptPrevHash"])
    return None


async def purge(session: AsyncSession, *, retention_days: int, now: datetime) -> int:
    """Remove entries older than the retention (never less than 180 days), and say so in the log."""
    days = max(retention_days, MIN_RETENTION_DAYS)
    before = now - timedelta(days=days)
    deleted = await repository.purge(session, before=before)
    if deleted:
        first = await repository.first(session)
        after: dict[str, Any] = {"deleted": deleted, "before": _time(before)}
        if first is not None:
            after.update(firstKeptId=first[0], firstKeptPrevHash=first[1])
        await append(session, actor=CLI, action=PURGE_ACTION, status=200, after=after)
    return deleted
