"""Per-enterprise limits, kept in each worker process: a request rate and a number of requests in flight.

A misbehaving gateway (a resend loop, a clock stuck in the past, uploads that stall half-sent) must
not crowd out the others. The limits are per process, so with N workers an enterprise may reach N
times them; they guard against floods, they do not account for quotas.
"""

import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class RateLimiter:
    """A token bucket per enterprise."""

    rate_per_second: float
    burst: int
    _buckets: dict[int, tuple[float, float]] = field(default_factory=dict)  # key -> (tokens, updated)

    def retry_after(self, key: int) -> int:
        """0 when the request may go ahead (a token is taken), else whole seconds to wait."""
        if self.rate_per_second <= 0:
            return 0
        now = time.monotonic()
        tokens, updated = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - updated) * self.rate_per_second)
        if tokens >= 1:
            self._buckets[key] = (tokens - 1, now)
            return 0
        self._buckets[key] = (tokens, now)
        return max(1, math.ceil((1 - tokens) / self.rate_per_second))


@dataclass
class InFlightLimiter:
    """At most `limit` requests of one enterprise at once; 0 turns the limit off."""

    limit: int
    _in_flight: Counter[int] = field(default_factory=Counter)

    def enter(self, key: int) -> bool:
        """Take a place for a request (True), or refuse it (False) when the enterprise has none left."""
        if self.limit > 0 and self._in_flight[key] >= self.limit:
            return False
        self._in_flight[key] += 1
        return True

    def leave(self, key: int) -> None:
        self._in_flight[key] -= 1
        if self._in_flight[key] <= 0:
            del self._in_flight[key]


# The largest live batch whose time tells whether the worker is saturated.
PROBE_RECORDS = 10


@dataclass
class BackfillLane:
    """Live passes first. After an outage hundreds of gateways re-send days of records (补传) while the
    other gates keep posting what passes now; the re-sent batches must not take the capacity the live ones
    need. A backfill batch takes a place only while this worker has fewer than `max_backfill` of them in
    flight, more than `reserve` of its `capacity` places free, and no small live batch has taken longer than
    `live_seconds` in the last `hold_seconds`; otherwise it is told to come back (429, Retry-After). A live
    batch is never turned away here.

    A slow live batch is the signal because counting places cannot see what makes it slow: the backfill
    batches already admitted share this worker's core and the database's with it, however few they are.
    Only a small one (a gate posting its passes as they happen) is a probe: a live batch of hundreds of
    records takes longer than the threshold on an idle worker."""

    capacity: int
    reserve: int
    max_backfill: int
    live_seconds: float = 0.0  # 0: live latency does not close the lane
    hold_seconds: float = 1.0
    clock: Callable[[], float] = time.monotonic
    _live: int = 0
    _backfill: int = 0
    _closed_until: float = 0.0

    def enter(self, backfill: bool) -> bool:
        if backfill:
            if (self._backfill >= self.max_backfill or self._live + self._backfill >= self.capacity - self.reserve
                    or self.clock() < self._closed_until):
                return False
            self._backfill += 1
        else:
            self._live += 1
        return True

    def leave(self, backfill: bool, seconds: float = 0.0, records: int = 1) -> None:
        """`seconds`: how long the batch of `records` took, from entering."""
        if backfill:
            self._backfill -= 1
            return
        self._live -= 1
        if self.live_seconds and records <= PROBE_RECORDS and seconds > self.live_seconds:
            self._closed_until = self.clock() + self.hold_seconds
