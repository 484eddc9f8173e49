"""Ingest's side of the database: commit each batch once, whatever the database says.

A batch is one transaction. When the database is away (``is_outage``) the same batch is retried with
back-off and nothing is dropped. When the database refuses the batch for any other reason (a value it
cannot hold, an index row too large), the batch is written again one message at a time: the messages
it accepts are committed, the one(s) it refuses go to the dead letters with the database's reason, so
a poison message can neither stop ingest nor take the good messages beside it down with it. Messages
already committed are taken off the batch as they go, so a retry after an outage never doubles them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

import psycopg

from telemetry.contracts.session import MetricInfo
from telemetry.contracts.sparkplug import DataType
from telemetry.ingest import metrics
from telemetry.ingest.decoder import Decoded
from telemetry.storage.repository import TelemetryWriter, is_outage

log = logging.getLogger(__name__)

DeadLetter = tuple[str, bytes, str]          # topic, raw payload, reason

DEAD_LETTER_PAYLOAD_MAX = 1024 * 1024        # bytes kept of a refused payload
REASON_MAX = 1000                            # characters kept of a reason


def dead_letter(topic: str, raw: bytes, reason: str) -> DeadLetter:
    """A dead letter that the dead-letter table can always hold (bounded, no NUL)."""
    if len(raw) > DEAD_LETTER_PAYLOAD_MAX:
        reason = f"{reason} (payload cut to its first {DEAD_LETTER_PAYLOAD_MAX} of {len(raw)} bytes)"
        raw = raw[:DEAD_LETTER_PAYLOAD_MAX]
    return topic.replace("\x00", "\\x00"), raw, reason.replace("\x00", "\\x00")[:REASON_MAX]


class BatchStore:
    """The database connections of one worker: one writes batches, one reads stored aliases (so that a read
    never lands inside a batch's open transaction). ``on_points`` hears the oldest source time of every
    committed batch (the rollup job's mark)."""

    def __init__(self, database_url: str, on_points: Callable[[datetime], None] | None = None) -> None:
        self.database_url = database_url
        self.on_points = on_points
        self.writer = TelemetryWriter()
        self._conn: psycopg.AsyncConnection | None = None
        self._reader: psycopg.AsyncConnection | None = None

    async def _connection(self) -> psycopg.AsyncConnection:
        if self._conn is None or self._conn.closed:
            # autocommit: every write is inside an explicit transaction block, and a stray query never
            # leaves a transaction open that would swallow the following commits
            self._conn = await psycopg.AsyncConnection.connect(self.database_url, autocommit=True)
        return self._conn

    async def _lost(self) -> None:
        self.writer.forget()
        if self._conn is not None:
            await self._conn.close()
        self._conn = None

    async def alias_registry(self, edge_node: str) -> dict[tuple[str | None, int], MetricInfo]:
        """A node's aliases as its latest births named them; waits out a database outage."""
        delay = 0.2
        while True:
            try:
                if self._reader is None or self._reader.closed:
                    self._reader = await psycopg.AsyncConnection.connect(self.database_url, autocommit=True)
                rows = await self.writer.alias_registry(self._reader, edge_node)
                break
            except psycopg.Error as exc:
                if not is_outage(exc):
                    raise
                log.warning("cannot read stored aliases (%s); retrying in %.1fs", exc, delay)
                if self._reader is not None:
                    await self._reader.close()
                self._reader = None
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        return {(device or None, int(alias)): MetricInfo(name, DataType[datatype], unit)
                for device, alias, name, datatype, unit in rows}

    async def commit(self, decoded: list[Decoded], dead: list[DeadLetter]) -> None:
        """Commit a batch (emptying both lists); returns only when every message is committed or dead-lettered."""
        delay = 0.2
        while decoded or dead:
            try:
                await self._commit_or_isolate(decoded, dead)
            except psycopg.Error as exc:       # only outages get here
                metrics.DB_ERRORS.inc()
                log.warning("database write failed (%s); retrying in %.1fs, nothing is dropped", exc, delay)
                await self._lost()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _commit_or_isolate(self, decoded: list[Decoded], dead: list[DeadLetter]) -> None:
        try:
            await self._commit(decoded, dead)
        except psycopg.Error as exc:
            if is_outage(exc):
                raise
            self.writer.forget()
            log.warning("the database refused a batch of %d messages (%s); writing them one by one",
                        len(decoded) + len(dead), exc)
        else:
            decoded.clear()
            dead.clear()
            return
        while dead:
            await self._commit([], dead[:1])
            dead.pop(0)
        while decoded:
            message = decoded[0]
            try:
                await self._commit([message], [])
            except psycopg.Error as exc:
                if is_outage(exc):
                    raise
                self.writer.forget()
                refused = dead_letter(str(message.topic), message.raw,
                                      f"refused by the database: {type(exc).__name__}: {exc}")
                log.warning("dead letter from %s: %s", refused[0], refused[2])
                await self._commit([], [refused])
            decoded.pop(0)

    async def _commit(self, decoded: list[Decoded], dead: list[DeadLetter]) -> None:
        conn = await self._connection()
        rows = [r for d in decoded for r in d.rows]
        async with conn.transaction():
            await self.writer.metric_ids(conn, [m for d in decoded for m in d.definitions])
            new = await self.writer.write_points(conn, rows)
            await self.writer.set_status(conn, [s for d in decoded for s in d.statuses])
            for topic, raw, error in dead:
                await self.writer.dead_letter(conn, topic, raw, error)
            # a message's rows all belong to its topic's device: one look per message, not per point
            changed = {(d.rows[0].station, d.rows[0].device) for d in decoded if d.rows} | \
                {(s.station, s.device) for d in decoded for s in d.statuses}
            await self.writer.notify(conn, changed)
        metrics.ROWS.inc(new)
        metrics.DEAD_LETTERS.inc(len(dead))
        if rows:
            metrics.LAG.set((datetime.now(UTC) - max(r.ts for r in rows)).total_seconds())
            if self.on_points is not None:
                self.on_points(min(r.ts for r in rows))

    async def close(self) -> None:
        for conn in (self._conn, self._reader):
            if conn is not None:
                await conn.close()
        self._conn = self._reader = None
