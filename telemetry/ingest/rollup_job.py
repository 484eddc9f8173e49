"""The rollup refresh of one ingest worker, off the write loop, on its own connection.

On plain PostgreSQL the 1 min / 1 h rollups are recomputed by the application (``storage/rollups.py``).
The batch writer only ``mark``s the oldest source time it committed; this job, running beside the
writer, refreshes from there at most every ``every_s`` seconds. So the write loop never waits for a
refresh, and every committed point still lands in the rollups: a window is taken only after the
points in it were committed, a window whose refresh fails is kept for the next attempt, and a point
committed while a refresh runs marks a new window. On TimescaleDB the continuous aggregates do it
and the job only forgets the marks.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime

import psycopg

from telemetry.storage import rollups

log = logging.getLogger(__name__)


class RollupJob:
    def __init__(self, database_url: str, every_s: float = 10.0) -> None:
        self.database_url = database_url
        self.every_s = every_s
        self.refreshes = 0                       # completed refreshes, for tests and health
        self._from: datetime | None = None       # oldest point committed since the last refresh took its window
        self._marked = asyncio.Event()
        self._timescale: bool | None = None

    def mark(self, oldest: datetime) -> None:
        """Points from ``oldest`` on were committed: their buckets need a refresh."""
        self._from = oldest if self._from is None else min(self._from, oldest)
        self._marked.set()

    @property
    def pending(self) -> bool:
        return self._from is not None

    async def run(self) -> None:
        """Refresh whenever points were committed, at most every ``every_s``, until cancelled."""
        delay = 0.2
        last = time.monotonic() - self.every_s
        while True:
            await self._marked.wait()
            await asyncio.sleep(max(0.0, last + self.every_s - time.monotonic()))
            try:
                await self.refresh_once()
                delay = 0.2
            except Exception as exc:           # the window is kept: the next attempt covers it
                log.warning("rollup refresh failed (%r); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            last = time.monotonic()

    async def refresh_once(self) -> None:
        """Refresh the marked window now (nothing when nothing is marked)."""
        since = self._from
        if since is None:
            self._marked.clear()
            return
        self._from = None
        self._marked.clear()
        try:
            async with await psycopg.AsyncConnection.connect(self.database_url, autocommit=True) as conn:
                if self._timescale is None:
                    self._timescale = await rollups.is_timescale(conn)
                if not self._timescale:
                    async with conn.transaction():
                        await rollups.refresh(conn, rollups.window_for(since))
        except BaseException:
            self.mark(since)                   # not refreshed: keep the window
            raise
        self.refreshes += 1
