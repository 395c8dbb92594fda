"""The maintenance task: every HJ1321_MAINTENANCE_INTERVAL_SECONDS each worker wakes, and the one that takes
the database's maintenance lock (one at a time across every host) makes the partitions of this month and
the next, so live passes never wait for one, and runs the retention purge."""

import asyncio
import logging
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from service import metrics, partitions, retention
from service.audit.service import Actor
from service.config import Settings
from service.photos.store import photo_store

logger = logging.getLogger("hj1321.maintenance")

MAINTENANCE = Actor(type="cli", id="maintenance", name="scheduled maintenance")
# The advisory lock one maintenance round holds, whichever worker or host runs it.
LOCK_KEY = "hashtext('hj1321 maintenance')"


async def run_once(engine: AsyncEngine, settings: Settings, now: datetime) -> retention.Report | None:
    """One round; None when another worker holds the lock (and so is doing it)."""
    async with engine.connect() as connection:
        if not (await connection.execute(text(f"SELECT pg_try_advisory_lock({LOCK_KEY})"))).scalar():
            await connection.commit()
            return None
        await connection.commit()
        try:
            month = partitions.beijing_month(now)
            await partitions.ensure(engine, [month, partitions.next_month(month)])
            report = await retention.purge(engine, settings, photo_store(settings), now, actor=MAINTENANCE,
                                           sweep=False)
            for what, rows in report.removed.items():
                metrics.RETENTION_REMOVED.labels(what).inc(rows)
            metrics.MAINTENANCE_LAST_SUCCESS.set_to_current_time()
            return report
        finally:
            await connection.execute(text(f"SELECT pg_advisory_unlock({LOCK_KEY})"))
            await connection.commit()


class MaintenanceTask:
    def __init__(self, engine: AsyncEngine, settings: Settings) -> None:
        self.engine, self.settings = engine, settings
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.settings.maintenance_interval_seconds > 0:
            self._task = asyncio.create_task(self._loop(), name="hj1321-maintenance")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _loop(self) -> None:
        while True:
            try:
                await run_once(self.engine, self.settings, datetime.now(UTC))
            except Exception:  # a failed round (the database away, a lock timeout) is retried next round
                logger.exception("maintenance round failed")
            await asyncio.sleep(self.settings.maintenance_interval_seconds)
