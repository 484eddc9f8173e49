"""The ingest worker: Sparkplug B from MQTT into committed rows in PostgreSQL.

Messages are taken from the broker into a queue, decoded in order (the session rules need
order), and written in batches, one transaction per batch. A batch that fails to write (the
database is away) is retried with back-off and never dropped. Each QoS 1 message is acknowledged
to the broker only after its batch is committed, in a persistent MQTT v5 session, so a worker that
dies before committing gets the same messages again when it comes back. What cannot be decoded goes to
the dead-letter table with its topic and raw bytes, and the next message carries on. A gap in
``seq`` or data from an unknown node asks that node for a rebirth.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime

import aiomqtt
import psycopg

from telemetry.contracts import sparkplug, topics
from telemetry.contracts.broker import BrokerAddress, ack, ack_after_commit, keep_sessions, persistent_session
from telemetry.contracts.session import REBIRTH_METRIC, MetricInfo, Verdict, host_state, parse_host_state
from telemetry.contracts.sparkplug import DataType, Metric, Payload
from telemetry.contracts.topics import MessageType
from telemetry.ingest import metrics
from telemetry.ingest.decoder import Decoded, Decoder, UndecodableMessage
from telemetry.storage import rollups
from telemetry.storage.repository import TelemetryWriter

log = logging.getLogger(__name__)

REBIRTH_HOLDOFF_S = 5.0


class IngestWorker:
    def __init__(self, database_url: str, broker: BrokerAddress, *, group: str = "+",
                 share_group: str | None = None, client_id: str = "forecourt-ingest", host_id: str | None = None,
                 batch_max: int = 2000, batch_wait_s: float = 0.05, rollup_every_s: float = 10.0) -> None:
        self.database_url = database_url
        self.broker = broker
        self.group = group
        self.share_group = share_group if broker.mqtt5 else None
        self.client_id = client_id
        self.host_id = host_id
        self.batch_max = batch_max
        self.batch_wait_s = batch_wait_s
        self.rollup_every_s = rollup_every_s
        # in a shared subscription each worker sees only part of a node's data: seq cannot be checked here
        self.decoder = Decoder(check_seq=self.share_group is None)
        self.writer = TelemetryWriter()
        self.subscribed = asyncio.Event()
        self._queue: asyncio.Queue[tuple[str, bytes, aiomqtt.Message | None]] = asyncio.Queue()
        self._rebirth_asked: dict[tuple[str, str], float] = {}
        self._restore_tried: dict[tuple[str, str], float] = {}
        self._conn: psycopg.AsyncConnection | None = None
        self._timescale: bool | None = None
        self._rollup_from: datetime | None = None    # oldest point written since the last refresh
        self._rolled_up_at = time.monotonic()

    @property
    def topic_filters(self) -> list[str]:
        """Without sharing: the whole group. Shared: births and deaths reach every worker (each needs every
        alias), and only the data messages are split between the workers."""
        if not self.share_group:
            return [topics.group_filter(self.group)]
        ns, g = topics.NAMESPACE, self.group
        session = [f"{ns}/{g}/{t}/#" for t in ("NBIRTH", "NDEATH", "DBIRTH", "DDEATH")]
        return session + [topics.shared(f"{ns}/{g}/{t}/#", self.share_group) for t in ("NDATA", "DDATA")]

    @property
    def topic_filter(self) -> str:
        return " + ".join(self.topic_filters)

    async def run(self) -> None:
        """Consume until cancelled; reconnect to the broker with back-off when it goes away."""
        await keep_sessions(self._session, self.subscribed.clear, log)

    async def _session(self) -> None:
        """One MQTT session. As the primary host it says STATE online (retained; its will says offline)."""
        will = None
        state = topics.state_topic(self.host_id) if self.host_id else None
        if state is not None:
            will = aiomqtt.Will(state, host_state(False, int(time.time() * 1000)), qos=1, retain=True)
        kwargs = self.broker.client_kwargs()
        kwargs.update(persistent_session(self.client_id) if self.broker.mqtt5 else {"identifier": self.client_id})
        async with aiomqtt.Client(will=will, **kwargs) as client:
            if self.broker.mqtt5:
                ack_after_commit(client)
            self._forget_unacknowledged()
            for topic_filter in self.topic_filters:
                await client.subscribe(topic_filter, qos=1)
            if state is not None:
                await client.subscribe(state, qos=1)
                await self._say_online(client)
            self.subscribed.set()
            log.info("ingest subscribed to %s on %s", self.topic_filter, self.broker.url())
            try:
                async with asyncio.TaskGroup() as tasks:
                    tasks.create_task(self._receive(client))
                    tasks.create_task(self._write_loop(client))
            except asyncio.CancelledError:
                if state is not None:   # a clean stop: the will fires only on an unclean loss
                    with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
                        await asyncio.wait_for(client.publish(state, host_state(False, int(time.time() * 1000)),
                                                              qos=1, retain=True), 2)
                raise

    async def _say_online(self, client: aiomqtt.Client) -> None:
        if self.host_id:
            await client.publish(topics.state_topic(self.host_id), host_state(True, int(time.time() * 1000)),
                                 qos=1, retain=True)

    async def _receive(self, client: aiomqtt.Client) -> None:
        state = topics.state_topic(self.host_id) if self.host_id else None
        async for message in client.messages:
            raw = message.payload if isinstance(message.payload, (bytes, bytearray)) else b""
            if state is not None and str(message.topic) == state:
                # another worker with the same host id died and its will said offline: we are still here
                if parse_host_state(bytes(raw)) is False:
                    await self._say_online(client)
                continue
            self._queue.put_nowait((str(message.topic), bytes(raw), message))
            metrics.QUEUE_DEPTH.set(self._queue.qsize())

    def _forget_unacknowledged(self) -> None:
        """A new persistent session: the broker resends what we never acknowledged, so drop our copies."""
        if self.broker.mqtt5:
            while not self._queue.empty():
                self._queue.get_nowait()

    async def _next_batch(self) -> list[tuple[str, bytes, aiomqtt.Message | None]]:
        batch = [await self._queue.get()]
        deadline = time.monotonic() + self.batch_wait_s
        while len(batch) < self.batch_max:
            timeout = deadline - time.monotonic()
            if timeout <= 0:
                break
            try:
                async with asyncio.timeout(timeout):   # not wait_for: it can swallow a cancellation on 3.11
                    batch.append(await self._queue.get())
            except TimeoutError:
                break
        return batch

    async def _write_loop(self, client: aiomqtt.Client) -> None:
        while True:
            batch = await self._next_batch()
            decoded, dead = await self.decode([(topic, raw) for topic, raw, _ in batch])
            await self._commit_with_retry(decoded, dead)
            for _, _, message in batch:       # committed: now the broker may forget them
                if message is not None and self.broker.mqtt5:
                    ack(client, message)
            metrics.BATCH_SIZE.observe(len(batch))
            metrics.QUEUE_DEPTH.set(self._queue.qsize())
            for d in decoded:
                if d.wants_rebirth:
                    await self._ask_rebirth(client, d.topic.group, d.topic.edge_node)

    async def decode(self, batch: list[tuple[str, bytes]]) -> tuple[list[Decoded], list[tuple[str, bytes, str]]]:
        decoded: list[Decoded] = []
        dead: list[tuple[str, bytes, str]] = []
        for topic, raw in batch:
            if topic.startswith(f"{topics.NAMESPACE}/STATE/"):
                continue
            try:
                d = self.decoder.decode(topic, raw)
                if d.verdict is Verdict.UNBORN and await self._restore(d.topic.group, d.topic.edge_node):
                    d = self.decoder.decode(topic, raw)     # again, with the aliases from storage
            except UndecodableMessage as exc:
                dead.append((topic, raw, str(exc)))
                log.warning("dead letter from %s: %s", topic, exc)
                continue
            metrics.MESSAGES.labels(d.topic.message_type.value).inc()
            if d.wants_rebirth:
                metrics.SEQ_GAPS.inc()
            decoded.append(d)
        return decoded, dead

    async def _restore(self, group: str, edge_node: str) -> bool:
        """Data from a node whose births we missed: load its aliases from storage (at most every few seconds)."""
        now = time.monotonic()
        if now - self._restore_tried.get((group, edge_node), -REBIRTH_HOLDOFF_S) < REBIRTH_HOLDOFF_S:
            return False
        self._restore_tried[(group, edge_node)] = now
        delay = 0.2
        while True:
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = await psycopg.AsyncConnection.connect(self.database_url, autocommit=True)
                rows = await self.writer.alias_registry(self._conn, edge_node)
                break
            except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
                log.warning("cannot read stored aliases (%s); retrying in %.1fs", exc, delay)
                self._conn = None
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        if not rows:
            return False
        registry = {(device or None, int(alias)): MetricInfo(name, DataType[datatype], unit)
                    for device, alias, name, datatype, unit in rows}
        self.decoder.restore(group, edge_node, registry)
        log.info("restored %d aliases of %s/%s from storage", len(registry), group, edge_node)
        return True

    async def _commit_with_retry(self, decoded: list[Decoded], dead: list[tuple[str, bytes, str]]) -> None:
        delay = 0.2
        while True:
            try:
                await self._commit(decoded, dead)
                return
            except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
                metrics.DB_ERRORS.inc()
                log.warning("database write failed (%s); retrying in %.1fs, nothing is dropped", exc, delay)
                if self._conn is not None:
                    await self._conn.close()
                self._conn = None
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _commit(self, decoded: list[Decoded], dead: list[tuple[str, bytes, str]]) -> None:
        if self._conn is None or self._conn.closed:
            # autocommit: every write is inside an explicit transaction block, and a stray query never
            # leaves a transaction open that would swallow the following commits
            self._conn = await psycopg.AsyncConnection.connect(self.database_url, autocommit=True)
        conn = self._conn
        rows = [r for d in decoded for r in d.rows]
        async with conn.transaction():
            await self.writer.metric_ids(conn, [m for d in decoded for m in d.definitions])
            new = await self.writer.write_points(conn, rows)
            await self.writer.set_status(conn, [s for d in decoded for s in d.statuses])
            for topic, raw, error in dead:
                await self.writer.dead_letter(conn, topic, raw, error)
            changed = {(r.station, r.device) for r in rows} | {(s.station, s.device) for d in decoded
                                                               for s in d.statuses}
            await self.writer.notify(conn, changed)
        metrics.ROWS.inc(new)
        metrics.DEAD_LETTERS.inc(len(dead))
        if rows:
            metrics.LAG.set((datetime.now(UTC) - max(r.ts for r in rows)).total_seconds())
            oldest = min(r.ts for r in rows)
            self._rollup_from = min(self._rollup_from or oldest, oldest)
        await self._refresh_rollups(conn)

    async def _refresh_rollups(self, conn: psycopg.AsyncConnection) -> None:
        """On plain PostgreSQL, keep the 1 min / 1 h rollups current (TimescaleDB does it by itself)."""
        if self._rollup_from is None or time.monotonic() - self._rolled_up_at < self.rollup_every_s:
            return
        if self._timescale is None:
            self._timescale = await rollups.is_timescale(conn)
        if not self._timescale:
            async with conn.transaction():
                await rollups.refresh(conn, rollups.window_for(self._rollup_from))
        self._rollup_from, self._rolled_up_at = None, time.monotonic()

    async def _ask_rebirth(self, client: aiomqtt.Client, group: str, edge_node: str) -> None:
        now = time.monotonic()
        if now - self._rebirth_asked.get((group, edge_node), -REBIRTH_HOLDOFF_S) < REBIRTH_HOLDOFF_S:
            return
        self._rebirth_asked[(group, edge_node)] = now
        payload = Payload(int(time.time() * 1000), None,
                          (Metric(REBIRTH_METRIC, None, None, DataType.BOOLEAN, True),))
        try:
            await client.publish(topics.node_topic(group, MessageType.NCMD, edge_node), sparkplug.encode(payload),
                                 qos=1)
            metrics.REBIRTHS.inc()
            log.info("asked %s/%s for a rebirth", group, edge_node)
        except aiomqtt.MqttError as exc:
            log.warning("could not ask %s for a rebirth: %s", edge_node, exc)
