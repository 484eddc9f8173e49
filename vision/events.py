"""The vision service's events on their way to the broker, kept on disk (docs/vision.md, "The vision service").

A ``vehicle.recognized`` is written to an SQLite file under the service's data dir (``data_dir/vision/events.sqlite``,
WAL, ``synchronous=FULL``) before ``put`` returns, and deleted only after the broker's PUBACK (QoS 1). So an event
taken while the broker is away survives a restart of the service and goes, in order, with its own CloudEvent id,
when the broker is back; one sent but not yet deleted when the service died goes again with the same id, and the
consumer drops the repeat (at least once on the wire, once per id downstream).

The queue is bounded: over ``limit`` events the oldest are dropped and counted (``event_queue_full``), so a
broker away for days never fills the disk. A file that is not a readable queue (a torn disk, a stray file) is
moved aside as ``events.sqlite.corrupt-<UTC time>``, counted (``event_queue_corrupt``) and logged with what to
do, and a fresh file takes its place: the service never stops for it. A row that is not a CloudEvent is dropped
and counted the same way.

Why not the edge node's outbox (``edge_nodes/outbox.py``): it never drops an event (a fuelling is money), it
trims telemetry by bytes and keeps two lanes for Sparkplug's historical flag; the vision service needs the
opposite bound (drop the oldest recognition, a car long gone) and one lane. The storage pattern is the same.

All SQLite calls run on one worker thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import aiomqtt

from protocol_adapters.mqtt.outbox import OutboxSink, PublishRefused, Send
from telemetry.contracts.events import CloudEvent
from telemetry.contracts.health import Check, check
from telemetry.contracts.topics import event_topic
from vision.metrics import QUEUED, SKIPPED

log = logging.getLogger(__name__)

T = TypeVar("T")
FULL, CORRUPT, UNWRITABLE = "event_queue_full", "event_queue_corrupt", "event_queue_unwritable"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq    INTEGER PRIMARY KEY AUTOINCREMENT,
    topic  TEXT NOT NULL,
    body   BLOB NOT NULL               -- the CloudEvent as sent (JSON)
);
"""


class QueueCorrupt(sqlite3.DatabaseError):
    """The file opens but is not our queue (a table of another shape, a failed integrity check)."""


def corrupt(error: sqlite3.Error) -> bool:
    """Only a file that is not a readable queue is set aside; a full disk, a lock or an I/O error is not the
    file's fault (SQLITE_CORRUPT and SQLITE_NOTADB are plain ``DatabaseError``; those are ``OperationalError``)."""
    return type(error) is sqlite3.DatabaseError or isinstance(error, QueueCorrupt)


def queue_file(data_dir: Path | str) -> Path:
    """Where the service keeps its queue: ``data_dir/vision/events.sqlite``."""
    return Path(data_dir) / "vision" / "events.sqlite"


class EventQueue:
    """Events to the station's business plane over MQTT (the topic of ``fuelling.completed``'s kind:
    ``forecourt/v1/{group}/{station}/events/{type}``), QoS 1, each kept on disk until the broker's PUBACK; a broker
    outage is retried with back-off and the same event id. ``put`` never blocks a camera for the broker.

    ``path=None`` keeps the queue in an in-memory SQLite database (tests that do not restart the service); the
    service always gives it the file under its data dir (``vision_for``)."""

    def __init__(self, sink: OutboxSink, group: str, station: str, limit: int = 1000, *,
                 path: Path | None = None) -> None:
        if limit < 1:
            raise ValueError("the event queue holds at least one event")
        self._sink, self._group, self._station, self._limit = sink, group, station, limit
        self.path = path
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="vision-events")
        self._db: sqlite3.Connection | None = None
        self._ready = asyncio.Event()
        self._ready.set()                # events left from before a restart go first
        self.connected = False
        self.queued = 0                  # events waiting (after the first call that opened the file)
        self.dropped = 0                 # dropped over the limit, by this object
        self.corrupt = 0                 # unreadable files or rows set aside, by this object
        self.delivered = 0

    # --- the file, on the worker thread ----------------------------------------------------------------------

    async def _run(self, call: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, call, *args)

    def _open(self) -> sqlite3.Connection:
        if self._db is not None:
            return self._db
        try:
            self._db = self._connect()
        except sqlite3.DatabaseError as error:        # not a database, malformed, a table of another shape
            if not corrupt(error):
                raise
            self._set_aside(error)
            self._db = self._connect()
        self._count()
        return self._db

    def _connect(self) -> sqlite3.Connection:
        if self.path is None:
            db = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.executescript(_SCHEMA)
            check = db.execute("PRAGMA quick_check").fetchone()
            if check is None or check[0] != "ok":
                raise QueueCorrupt(f"quick_check: {check[0] if check else 'no answer'}")
            columns = [row[1] for row in db.execute("PRAGMA table_info(events)")]
            if columns != ["seq", "topic", "body"]:
                raise QueueCorrupt(f"the events table has the columns {columns}, not seq, topic, body")
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def _set_aside(self, error: Exception) -> None:
        """The file is not a readable queue: move it (and its WAL) aside, count it, and start a fresh one."""
        self.corrupt += 1
        SKIPPED.labels("-", CORRUPT).inc()
        if self._db is not None:
            try:
                self._db.close()
            except sqlite3.Error:
                log.debug("vision: closing the broken event queue failed", exc_info=True)
            self._db = None
        if self.path is None:
            log.error("vision: the in-memory event queue failed (%s); starting an empty one", error)
            return
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        for suffix in ("", "-wal", "-shm"):
            part = self.path.with_name(self.path.name + suffix)
            if part.exists():
                part.replace(aside.with_name(aside.name + suffix))
        log.error("vision: the event queue %s is unreadable (%s); it was moved to %s and a new queue started. "
                  "Events in it were not sent: keep the file for inspection or delete it", self.path, error, aside)

    def _count(self) -> int:
        assert self._db is not None  # noqa: S101 - opened before use
        self.queued = int(self._db.execute("SELECT count(*) FROM events").fetchone()[0])
        QUEUED.set(self.queued)
        return self.queued

    def _guarded(self, call: Callable[[sqlite3.Connection], T], fallback: T) -> T:
        """``call`` on the open file; a file found broken meanwhile is set aside and ``fallback`` answered."""
        try:
            return call(self._open())
        except sqlite3.DatabaseError as error:
            if not corrupt(error):
                raise                                    # the disk's trouble, not the file's: nothing set aside
            self._set_aside(error)
            return fallback

    def _insert(self, topic: str, body: bytes) -> int:
        def insert(db: sqlite3.Connection) -> int:
            with db:                                     # one transaction: the row and the trim
                db.execute("BEGIN IMMEDIATE")
                db.execute("INSERT INTO events (topic, body) VALUES (?, ?)", (topic, body))
                over = int(db.execute("SELECT count(*) FROM events").fetchone()[0]) - self._limit
                if over > 0:
                    db.execute("DELETE FROM events WHERE seq IN (SELECT seq FROM events ORDER BY seq LIMIT ?)",
                               (over,))
            self._count()
            return max(over, 0)

        dropped = self._guarded(insert, -1)
        if dropped == -1:                                # the file broke under us: the fresh one takes the event
            dropped = self._guarded(insert, 0)
        return dropped

    def _oldest(self, batch: int) -> list[tuple[int, str, bytes]]:
        def select(db: sqlite3.Connection) -> list[tuple[int, str, bytes]]:
            rows = db.execute("SELECT seq, topic, body FROM events ORDER BY seq LIMIT ?", (batch,)).fetchall()
            return [(int(seq), str(topic), bytes(body)) for seq, topic, body in rows]

        return self._guarded(select, [])

    def _delete(self, seq: int) -> None:
        def delete(db: sqlite3.Connection) -> None:
            db.execute("DELETE FROM events WHERE seq = ?", (seq,))
            self._count()

        self._guarded(delete, None)

    def _close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    # --- the loop -------------------------------------------------------------------------------------------

    async def put(self, event: CloudEvent) -> None:
        """Keep the event on disk (committed when this returns); over the limit the oldest are dropped, counted.
        A disk that cannot take it (full, read-only) loses this event, counted and logged: never the camera's loop."""
        try:
            dropped = await self._run(self._insert, event_topic(self._group, self._station, event.type),
                                      event.to_bytes())
        except (sqlite3.Error, OSError) as error:
            SKIPPED.labels("-", UNWRITABLE).inc()
            log.error("vision: an event could not be queued in %s (%s); check the disk of the data dir", self.path,
                      error)
            return
        if dropped:
            self.dropped += dropped
            SKIPPED.labels("-", FULL).inc(dropped)
            log.warning("vision: %d queued event(s) dropped, the queue holds %d (the broker is away)", dropped,
                        self._limit)
        self._ready.set()

    async def pending(self) -> int:
        """Events waiting for the broker (opens the file if nothing did yet)."""
        def count() -> int:
            return self._guarded(lambda _: self._count(), 0)

        return await self._run(count)

    def health(self) -> Check:
        """For ``/healthz``: the broker connection and how many events wait (as of the last call on the file)."""
        return check(self.connected, {"queued": self.queued, "dropped": self.dropped, "corrupt": self.corrupt})

    async def run(self) -> None:
        """Deliver until cancelled, through broker outages (back-off 0.5 s doubling to 10 s)."""
        delay = 0.5
        try:
            while True:
                try:
                    async with self._sink.connected() as send:
                        self.connected, delay = True, 0.5
                        await self._deliver(send)
                except (aiomqtt.MqttError, PublishRefused, OSError) as error:
                    log.warning("vision: events to the business plane wait for the broker (%s)", error)
                except sqlite3.Error as error:          # the disk's trouble: retried, the service goes on
                    log.error("vision: the event queue %s cannot be read (%s); check the disk of the data dir",
                              self.path, error)
                self.connected = False
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
        finally:
            self.connected = False
            await asyncio.shield(self._run(self._close))

    async def _deliver(self, send: Send) -> None:
        while True:
            self._ready.clear()                          # cleared before reading: a put after this wakes us
            rows = await self._run(self._oldest, 100)
            if not rows:
                await self._ready.wait()
                continue
            for seq, topic, body in rows:
                if self._readable(body):
                    await send(topic, body)              # returns at the broker's PUBACK
                    self.delivered += 1
                await self._run(self._delete, seq)

    def _readable(self, body: bytes) -> bool:
        try:
            CloudEvent.from_bytes(body)
        except ValueError:                               # not JSON, not UTF-8, not an envelope
            self.corrupt += 1
            SKIPPED.labels("-", CORRUPT).inc()
            log.error("vision: a queued event is not a CloudEvent; dropped")
            return False
        return True
