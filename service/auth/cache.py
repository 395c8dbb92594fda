"""Credentials a worker has just checked, trusted for a few seconds without asking the database.

Every gateway request used to cost a database round trip before anything else, refused ones
included; a flood of requests from one key became a flood of queries. Trusting a check for
`credential_cache_seconds` takes that away, at a price written down: a credential revoked (or an
enterprise disabled) in another process keeps working on this worker for at most that long. The
worker that revokes forgets at once, and an expiry is honoured to the second from the cached copy.
"""

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

T = TypeVar("T")

_MAX_ENTRIES = 100_000


@dataclass
class CredentialCache(Generic[T]):
    seconds: float
    _entries: dict[str, tuple[float, T, datetime | None]] = field(default_factory=dict)

    def get(self, secret_hash: str, now: datetime) -> T | None:
        entry = self._entries.get(secret_hash)
        if entry is None:
            return None
        checked, value, expires_at = entry
        if time.monotonic() - checked >= self.seconds or (expires_at is not None and expires_at <= now):
            del self._entries[secret_hash]
            return None
        return value

    def put(self, secret_hash: str, value: T, expires_at: datetime | None) -> None:
        if self.seconds <= 0:
            return
        if len(self._entries) >= _MAX_ENTRIES:
            self._entries.clear()  # more live credentials than any deployment has: start over
        self._entries[secret_hash] = (time.monotonic(), value, expires_at)

    def clear(self) -> None:
        self._entries.clear()
