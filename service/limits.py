"""Per-enterprise limits, kept in each worker process: a request rate and a number of requests in flight.

A misbehaving gateway (a resend loop, a clock stuck in the past, uploads that stall half-sent) must
not crowd out the others. The limits are per process, so with N workers an enterprise may reach N
times them; they guard against floods, they do not account for quotas.
"""

import asyncio
import math
import random
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from service import metrics


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


# What a batch awaits between the steps of its work.
Pause = Callable[[], Awaitable[None]]


async def let_others_in() -> None:
    await asyncio.sleep(0)


# How long a backfill batch waits, at each pause, for the live batches in flight on its worker.
GIVE_WAY_SECONDS = 0.02


# The largest live batch whose time tells whether the worker is saturated.
PROBE_RECORDS = 10


@dataclass
class BackfillLane:
    """Live passes first. After an outage hundreds of gateways re-send days of records (补传) while the
    other gates keep posting what passes now; the re-sent batches must not take the capacity the live ones
    need. Live traffic is every request but a 补传 batch: a live batch, and any other request while it holds a
    database session (db.py), such as a gateway's read of its control measures or a staff member's query. A
    backfill batch takes a place only while this worker has fewer than `max_backfill` of them in
    flight (`max_backfill_beside_live` while live traffic arrives: some came in the last `hold_seconds`), more
    than `reserve` of its `capacity` places free, and the lane is open; otherwise it is told to come back
    (429, Retry-After). Live traffic is never turned away here. Two backfill batches in flight keep a worker
    busy while the other waits for the database; beside live passes, one lets them through sooner.

    The lane closes for `hold_seconds` when more than `slow_share` of the live probes of the last
    `hold_seconds` took longer than `live_seconds`. A slow live batch is the signal because counting places
    cannot see what makes it slow: the backfill batches already admitted share this worker's core and the
    database's with it, however few they are. Only a small one (a gate posting its passes as they happen) is
    a probe: a live batch of hundreds of records takes longer than the threshold on an idle worker. A share,
    not a single probe: on a shared machine one post in a hundred is slow whatever the load, and at a few
    hundred posts a second a single one would keep the lane shut.

    A batch refused for want of a place is told to come back in a second: places free up within a batch's
    time. One refused while the lane is closed is told to come back after it opens, plus up to
    `retry_spread` - 1 seconds drawn at random: gateways refused in the same second would otherwise all come
    back in the same second, and reading their batches only to refuse them again takes, in a burst, the time
    the live posts need.

    A backfill batch that finds no place is answered after a random part of `answer_spread_seconds`. Retry-After
    is whole seconds, so gateways that honour it come back on the fraction of a second they were answered at:
    refused together (as after an outage, when they all reconnect at once) they would come back together every
    time, a burst that takes the worker whole while a live pass waits behind it. While no live batch is
    around, it waits for a place meanwhile, and is taken as soon as one frees or the lane opens (the batches
    waiting take them in turn): refused, it would leave that place empty until some gateway came back for it
    (50 plants re-sending left the machine 35-48 % idle; waiting, they drain a third faster: docs/benchmarks.md).
    Beside live batches it is refused all the same: the place it leaves empty until then is room the live passes
    have, and filling it took their p99 in a storm from 30-38 ms to 53-54 ms. Either way it holds no CPU and no
    database connection: a batch waits before it takes one.

    A plant whose last batch here was backfill is catching up (for `catching_up_seconds` after that batch):
    its next large batch can be refused from its headers alone, before its body is parsed, which is most of
    what a refusal costs the worker. A small one (a gate's pass or few) is always parsed: it may be live.

    A backfill batch admitted gives way between the slices of its work: while a live batch is in flight on
    this worker, it waits for it (up to `give_way_seconds` each time) before taking the event loop again.
    Letting others in (asyncio.sleep(0)) is not enough: each step of the live batch would still queue behind
    one slice of every backfill batch, and on a saturated machine a slice of tens of records takes as many
    milliseconds."""

    capacity: int
    reserve: int
    max_backfill: int
    max_backfill_beside_live: int = 1
    live_seconds: float = 0.0  # 0: live latency does not close the lane
    hold_seconds: float = 1.0
    slow_share: float = 0.1
    retry_spread: int = 3
    catching_up_seconds: float = 60.0
    give_way_seconds: float = GIVE_WAY_SECONDS  # 0: backfill only lets others in
    answer_spread_seconds: float = 1.0  # 0: a batch finding no place is refused at once, waiting for none
    clock: Callable[[], float] = time.monotonic
    draw: Callable[[int, int], int] = random.randint
    fraction: Callable[[], float] = random.random
    _live: int = 0
    _backfill: int = 0
    _closed_until: float = 0.0
    _probes: deque[tuple[float, bool]] = field(default_factory=deque)  # (when, slow) within hold_seconds
    _slow: int = 0
    _catching_up: dict[int, float] = field(default_factory=dict)  # enterprise -> until when
    _last_live: float = -math.inf  # when the latest live batch came in
    _no_live: asyncio.Event = field(default_factory=asyncio.Event)  # set exactly while _live is 0
    _waiting: deque[asyncio.Future[None]] = field(default_factory=deque)  # backfill batches waiting for a place

    def __post_init__(self) -> None:
        self._no_live.set()

    def pause_for(self, backfill: bool) -> Pause:
        return self._give_way if backfill and self.give_way_seconds else let_others_in

    async def _give_way(self) -> None:
        if not self._live:
            return await let_others_in()
        try:
            async with asyncio.timeout(self.give_way_seconds):
                await self._no_live.wait()
        except TimeoutError:
            pass  # bounded: a steady stream of live batches must not stop backfill altogether

    def enter(self, backfill: bool) -> bool:
        if backfill:
            if not self._takes_backfill():
                return False
            self._backfill += 1
        else:
            self._live += 1
            self._no_live.clear()
            self._last_live = self.clock()
        return True

    def leave(self, backfill: bool, seconds: float = 0.0, records: int = 1) -> None:
        """`seconds`: how long the batch of `records` took, from entering; no records: not a batch."""
        if backfill:
            self._backfill -= 1
        else:
            self._live -= 1
            if not self._live:
                self._no_live.set()
            if self.live_seconds and 0 < records <= PROBE_RECORDS:
                self._probe(seconds > self.live_seconds)
        self._wake_next()

    @asynccontextmanager
    async def live(self) -> AsyncIterator[None]:
        """A live request that is not a batch. Never a probe: how long a read takes says how much it read."""
        self.enter(False)
        try:
            yield
        finally:
            self.leave(False, records=0)

    def _beside_live(self) -> bool:
        return self._live > 0 or self.clock() - self._last_live < self.hold_seconds

    def _takes_backfill(self) -> bool:
        limit = min(self.max_backfill, self.max_backfill_beside_live) if self._beside_live() else self.max_backfill
        return (self._backfill < limit and self._live + self._backfill < self.capacity - self.reserve
                and self.clock() >= self._closed_until)

    def note(self, enterprise: int, backfill: bool) -> None:
        """What the plant's latest batch here was: backfill marks it catching up, live ends that."""
        if backfill:
            self._catching_up[enterprise] = self.clock() + self.catching_up_seconds
        else:
            self._catching_up.pop(enterprise, None)

    def defers_unparsed(self, enterprise: int) -> bool:
        """Whether a large batch of this plant is refused before it is parsed: the plant is catching up, and
        a backfill batch would be refused now."""
        until = self._catching_up.get(enterprise)
        if until is None:
            return False
        if until <= self.clock():
            del self._catching_up[enterprise]
            return False
        return not self._takes_backfill()

    async def enter_or_wait(self, backfill: bool) -> bool:
        """Take a place (True), waiting for one up to a random part of `answer_spread_seconds` (False: none came)."""
        return self.enter(backfill) or (await self.wait_for_room() and self.enter(backfill))

    async def wait_for_room(self) -> bool:
        """Wait until the lane would take a backfill batch (True), up to a random part of
        `answer_spread_seconds` (False). Beside live batches, wait that part and say no."""
        started = self.clock()
        deadline = started + self.answer_spread_seconds * self.fraction()
        if self._beside_live():
            await asyncio.sleep(max(0.0, deadline - self.clock()))
            metrics.BACKFILL_WAIT.labels("beside_live").observe(self.clock() - started)
            return False
        room = await self._wait_in_turn(deadline)
        metrics.BACKFILL_WAIT.labels("room" if room else "no_room").observe(self.clock() - started)
        return room

    async def _wait_in_turn(self, deadline: float) -> bool:
        waiter: asyncio.Future[None] | None = None
        while not self._takes_backfill():
            now = self.clock()
            if now >= deadline:
                return False
            turn_kept = waiter is not None  # woken for a place another batch took first, or by the clock
            waiter = asyncio.get_running_loop().create_future()
            if turn_kept:
                self._waiting.appendleft(waiter)
            else:
                self._waiting.append(waiter)
            try:
                # Not wait_for: on Python 3.11 it swallows a cancellation that comes after the wake-up.
                async with asyncio.timeout(min(deadline, self._opens_by_itself()) - now):
                    await waiter
            except TimeoutError:
                self._stop_waiting(waiter)  # and look again: the lane may have opened by itself
            except asyncio.CancelledError:
                if not self._stop_waiting(waiter):
                    self._wake_next()  # its client went away after it was woken: the place is the next one's
                raise
        return True

    def _stop_waiting(self, waiter: asyncio.Future[None]) -> bool:
        """Take a waiter out of the queue (True), unless it was woken already (False)."""
        if waiter in self._waiting:
            self._waiting.remove(waiter)
            return True
        return waiter.cancelled()  # out of the queue: woken (a result) or passed over (cancelled by its timeout)

    def _opens_by_itself(self) -> float:
        """When the lane may take backfill with nothing leaving: it reopens after a hold, or the second after
        the latest live batch ends and its own limit applies again. math.inf: only a departure can open it."""
        opens = self._closed_until if self._closed_until > self.clock() else math.inf
        if not self._live and self._beside_live():
            opens = min(opens, self._last_live + self.hold_seconds)
        return opens

    def _wake_next(self) -> None:
        """A place may have freed: wake the longest waiting batch, one for the place. If another batch took the
        place first, the woken one waits again at the head of the queue."""
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():  # else it stopped waiting
                waiter.set_result(None)
                return

    def retry_after(self) -> int:
        """Whole seconds a deferred batch should wait before it is sent again."""
        closed_for = self._closed_until - self.clock()
        if closed_for <= 0:
            return 1
        return math.ceil(closed_for) + self.draw(0, max(1, self.retry_spread) - 1)

    def _probe(self, slow: bool) -> None:
        now = self.clock()
        self._probes.append((now, slow))
        self._slow += slow
        while self._probes[0][0] <= now - self.hold_seconds:
            self._slow -= self._probes.popleft()[1]
        if slow and self._slow > self.slow_share * len(self._probes):
            self._closed_until = now + self.hold_seconds
