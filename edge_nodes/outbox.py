"""Store and forward: everything the edge node publishes goes through a disk queue first.

A reading or an event is committed to SQLite (WAL, ``synchronous=FULL``) before it is published,
and deleted only after the broker acknowledged it (QoS 1). A crash, a broker outage or a lost
primary host therefore loses nothing; what is replayed twice is idempotent downstream (points are
keyed by metric and source time, events by their id).

Two lanes: rows written during the current MQTT session are *live*; older rows are the *backlog*,
replayed in order with the historical flag while live rows keep flowing. The queue is bounded:
when it is over ``max_bytes`` the oldest telemetry is dropped first (and counted); events
(fuelling transactions, alarms …) are never dropped.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prometheus_client import Counter, Gauge

from edge_nodes.metrics import REGISTRY as EDGE_REGISTRY
from protocol_adapters.readings import Reading
from telemetry.contracts.quality import Quality

TELEMETRY, EVENT = "telemetry", "event"

DROPPED = Counter("forecourt_edge_outbox_dropped_total", "Telemetry rows dropped because the outbox was full",
                  registry=EDGE_REGISTRY)
ROWS = Gauge("forecourt_edge_outbox_rows", "Rows waiting in the outbox", registry=EDGE_REGISTRY)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    kind     TEXT NOT NULL,        -- 'telemetry' or 'event'
    target   TEXT NOT NULL,        -- device code (telemetry) or MQTT topic (event)
    body     BLOB NOT NULL,
    size     INTEGER NOT NULL
);
-- small facts the edge node must remember across restarts (e.g. the last fuelling seen per pump side)
CREATE TABLE IF NOT EXISTS edge_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True, slots=True)
class Row:
    id: int
    kind: str
    target: str
    body: bytes

    def readings(self) -> list[Reading]:
        return [Reading(k, v, datetime.fromtimestamp(t / 1000, UTC), Quality(q), r)
                for k, v, t, q, r in json.loads(self.body)]


def encode_readings(readings: list[Reading]) -> bytes:
    return json.dumps([[r.key, r.value, int(r.source_time.timestamp() * 1000), r.quality.value, r.reason]
                       for r in readings], separators=(",", ":")).encode()


class Outbox:
    """An SQLite-backed FIFO with a live lane and a backlog lane. All calls run on one worker thread."""

    def __init__(self, path: Path, max_bytes: int = 256 * 1024 * 1024) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="outbox")
        self._db: sqlite3.Connection | None = None
        self._bytes = 0
        self.session_boundary = 0      # rows with id <= this are backlog
        self.wake = asyncio.Event()

    async def _run(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def open(self) -> None:
        await self._run(self._open)

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.executescript(_SCHEMA)
        self._bytes = db.execute("SELECT coalesce(sum(size), 0) FROM outbox").fetchone()[0]
        self._db = db
        ROWS.set(self._count())

    async def close(self) -> None:
        if self._db is not None:
            await self._run(self._db.close)
            self._db = None
        self._executor.shutdown(wait=True)

    def _count(self) -> int:
        assert self._db is not None  # noqa: S101 - opened before use
        return int(self._db.execute("SELECT count(*) FROM outbox").fetchone()[0])

    # --- writing ------------------------------------------------------------------------------

    async def put_readings(self, device: str, readings: list[Reading]) -> None:
        if readings:
            await self._run(self._put, TELEMETRY, device, encode_readings(readings))
            self.wake.set()

    async def put_event(self, topic: str, body: bytes) -> None:
        await self._run(self._put, EVENT, topic, body)
        self.wake.set()

    def _put(self, kind: str, target: str, body: bytes) -> None:
        assert self._db is not None  # noqa: S101
        self._db.execute("INSERT INTO outbox (kind, target, body, size) VALUES (?, ?, ?, ?)",
                         (kind, target, body, len(body)))
        self._bytes += len(body)
        if self._bytes > self.max_bytes:
            self._trim()
        ROWS.inc()

    def _trim(self) -> None:
        """Drop the oldest telemetry until under the limit; events stay whatever it costs."""
        assert self._db is not None  # noqa: S101
        while self._bytes > self.max_bytes:
            rows = self._db.execute("SELECT id, size FROM outbox WHERE kind = ? ORDER BY id LIMIT 100",
                                    (TELEMETRY,)).fetchall()
            if not rows:
                return
            drop, freed = [], 0
            for row_id, size in rows:   # only as many of the oldest as it takes
                if self._bytes - freed <= self.max_bytes:
                    break
                drop.append(row_id)
                freed += size
            self._db.execute(f"DELETE FROM outbox WHERE id IN ({','.join('?' * len(drop))})", drop)  # noqa: S608
            self._bytes -= freed
            DROPPED.inc(len(drop))
            ROWS.dec(len(drop))

    # --- reading ------------------------------------------------------------------------------

    async def start_session(self) -> int:
        """Everything already queued becomes backlog (replayed as historical) for the new session."""
        self.session_boundary = await self._run(self._max_id)
        return self.session_boundary

    def _max_id(self) -> int:
        assert self._db is not None  # noqa: S101
        return int(self._db.execute("SELECT coalesce(max(id), 0) FROM outbox").fetchone()[0])

    async def live(self, limit: int = 500) -> list[Row]:
        return await self._run(self._select, "id > ?", self.session_boundary, limit)  # type: ignore[no-any-return]

    async def backlog(self, limit: int = 200) -> list[Row]:
        return await self._run(self._select, "id <= ?", self.session_boundary, limit)  # type: ignore[no-any-return]

    def _select(self, where: str, boundary: int, limit: int) -> list[Row]:
        assert self._db is not None  # noqa: S101
        rows = self._db.execute(f"SELECT id, kind, target, body FROM outbox WHERE {where} ORDER BY id LIMIT ?",  # noqa: S608
                                (boundary, limit)).fetchall()
        return [Row(*r) for r in rows]

    async def done(self, ids: list[int]) -> None:
        """The broker has them: forget them."""
        if ids:
            await self._run(self._delete, ids)

    def _delete(self, ids: list[int]) -> None:
        assert self._db is not None  # noqa: S101
        marks = ",".join("?" * len(ids))
        freed = self._db.execute(f"SELECT coalesce(sum(size), 0) FROM outbox WHERE id IN ({marks})",  # noqa: S608
                                 ids).fetchone()[0]
        self._db.execute(f"DELETE FROM outbox WHERE id IN ({marks})", ids)  # noqa: S608
        self._bytes -= int(freed)
        ROWS.set(self._count())

    async def get_state(self, key: str) -> str | None:
        value: str | None = await self._run(self._get_state, key)
        return value

    def _get_state(self, key: str) -> str | None:
        assert self._db is not None  # noqa: S101
        row = self._db.execute("SELECT value FROM edge_state WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    async def set_state(self, key: str, value: str) -> None:
        await self._run(self._set_state, key, value)

    def _set_state(self, key: str, value: str) -> None:
        assert self._db is not None  # noqa: S101
        self._db.execute("INSERT INTO edge_state (key, value) VALUES (?, ?) "
                         "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))

    async def size(self) -> tuple[int, int]:
        """(rows, bytes) waiting."""
        count = await self._run(self._count)
        return int(count), self._bytes
