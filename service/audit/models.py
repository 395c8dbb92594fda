"""The audit log: one entry per request by staff, per failed authentication and per administrative
action, append-only (a database trigger) and hash-chained (each entry's hash covers the previous)."""

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Index, SmallInteger
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel


class AuditEntry(SQLModel, table=True):
    __tablename__ = "audit_entry"
    # A page is newest first along (at, id): read backwards from its window's end, it stops after its rows
    # wherever the window lies. Ordered by id alone, PostgreSQL walked the primary key back from the newest
    # entry, supposing a window's entries spread over every id, and read the whole log after an old window.
    __table_args__ = (Index("ix_audit_entry_at_id", "at", "id"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigInteger)
    at: datetime = Field(sa_type=DateTime(timezone=True))
    actor: dict[str, Any] = Field(sa_type=JSONB)  # {"type", "id", "name", "role", "regionCode"}
    # Who may read the entry: auditors whose jurisdiction holds the actor's or the target's region.
    actor_region: str = ""
    target_region: str | None = None
    action: str
    target: str | None = None
    query: dict[str, Any] = Field(default_factory=dict, sa_type=JSONB)
    status: int
    rows: int | None = None
    client_ip: str | None = None
    request_id: str | None = None
    before: dict[str, Any] | None = Field(default=None, sa_type=JSONB)
    after: dict[str, Any] | None = Field(default=None, sa_type=JSONB)
    prev_hash: str
    hash: str = Field(unique=True)


class AuditChain(SQLModel, table=True):
    """The head of the chain, one row: writers take turns on it (its row lock) and read the last hash."""

    __tablename__ = "audit_chain"

    id: int = Field(primary_key=True, sa_type=SmallInteger)
    last_id: int = Field(sa_type=BigInteger)
    last_hash: str
