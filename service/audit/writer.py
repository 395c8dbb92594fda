"""Audit entries of reads and refusals, written in batches off the request's path.

A read's answer does not wait for its entry: the entry is queued when the answer's status is known
and a writer task commits what has queued, in one transaction per batch (one chain-head update, one
WAL flush for many entries). Measured, writing each entry in its request cost a quarter of a
bureau read's time; batched, it costs next to nothing.

What this gives up, said plainly: an entry reaches the database a few milliseconds after its
answer, and a crash of the process can lose the batch not yet written. What it keeps: when entries
cannot be written (the database is gone, the log is slower than the requests), the backlog fills
and staff requests are refused with 503 rather than answered unrecorded. Administrative changes are
not written here: their entry commits with the change itself.
"""

import asyncio
import logging
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from service import metrics
from service.audit import service

logger = logging.getLogger("hj1321")

_BATCH = 500


@dataclass
class AuditWriter:
    sessionmaker: async_sessionmaker[AsyncSession]
    backlog: int = 10_000
    retry_seconds: float = 1.0
    _queue: asyncio.Queue[dict[str, Any]] = field(init=False)
    _task: asyncio.Task[None] | None = field(default=None, init=False)
    _idle: asyncio.Event = field(init=False)

    def __post_init__(self) -> None:
        self._queue = asyncio.Queue(maxsize=self.backlog)
        self._idle = asyncio.Event()
        self._idle.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="audit-writer")

    def submit(self, entry: dict[str, Any]) -> bool:
        """Queue an entry (the keywords of service.append); False when the backlog is full."""
        try:
            self._queue.put_nowait(entry)
        except asyncio.QueueFull:
            return False
        self._idle.clear()
        return True

    async def flush(self) -> None:
        """Wait until everything queued so far is committed."""
        await self._idle.wait()

    async def stop(self) -> None:
        """Write what is queued (as far as the database lets), then end the writer."""
        task, self._task = self._task, None
        if task is None:
            return
        with suppress(TimeoutError):
            async with asyncio.timeout(10):
                await self.flush()
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < _BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            while True:
                try:
                    async with self.sessionmaker() as session:
                        for entry in batch:
                            await service.append(session, **entry)
                        await session.commit()
                    break
                except Exception as exc:
                    metrics.AUDIT_WRITE_FAILURES.inc()
                    logger.warning("audit entries not written yet (%d waiting): %s", len(batch) + self._queue.qsize(),
                                   type(exc).__name__)
                    await asyncio.sleep(self.retry_seconds)
            metrics.AUDIT_ENTRIES.inc(len(batch))
            if self._queue.empty():
                self._idle.set()
