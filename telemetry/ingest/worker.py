"""The ingest worker: Sparkplug B from MQTT into committed rows in PostgreSQL.

Messages are taken from the broker into a queue, decoded in order (the session rules need
order), and written in batches, one transaction per batch; decoding batch N+1 overlaps the commit of
batch N (``pipeline.py``), and the rollup refresh runs beside them on its own connection
(``rollup_job.py``) (``store.py``: a database outage holds
and retries the batch; a message the database refuses is found and dead-lettered, the rest of the
batch is committed). Each QoS 1 message is acknowledged to the broker only after its batch is
committed, in a persistent MQTT v5 session, so a worker that dies before committing gets the same
messages again when it comes back. What cannot be decoded or breaks a limit (``limits.py``) goes to
the dead-letter table with its topic, raw bytes and reason, and the next message carries on. A gap
in ``seq`` or data from an unknown node asks that node for a rebirth. ``health()`` turns red when
messages wait and nothing is committed for ``stall_after_s``. As the primary host it keeps STATE
with the other workers of its host id (``host.py``); a session that ends on an unexpected error
ends with its will, so the host looks crashed when it crashed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import aiomqtt

from protocol_adapters.mqtt.client import ack, ack_after_commit, disconnect_with_will, keep_sessions, persistent_session
from telemetry.contracts import sparkplug, topics
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.session import REBIRTH_METRIC, Verdict, read_host_state
from telemetry.contracts.sparkplug import DataType, Metric, Payload
from telemetry.contracts.topics import MessageType
from telemetry.ingest import metrics
from telemetry.ingest.decoder import Decoded, Decoder, UndecodableMessage
from telemetry.ingest.host import PrimaryHost, Reaction, reaction
from telemetry.ingest.limits import Limits
from telemetry.ingest.pipeline import run_pipeline
from telemetry.ingest.progress import Progress
from telemetry.ingest.rollup_job import RollupJob
from telemetry.ingest.store import BatchStore, DeadLetter, dead_letter

log = logging.getLogger(__name__)

REBIRTH_HOLDOFF_S = 5.0
# QoS 1 messages the broker may send us unacknowledged (MQTT v5 Receive Maximum; the broker's
# max_inflight_messages is 1000 too, docs/how-to/mqtt-security.md). A message is acknowledged only after
# its batch commits, so a batch is at most half the window: the next batch can arrive and be decoded
# while one commits. (With batches as large as the window, the broker sends nothing during a commit, the
# decode of the next batch waits for it and the batch wait runs out on every batch.)
RECEIVE_WINDOW = 1000

Received = tuple[str, bytes, aiomqtt.Message | None]       # topic, payload, the message to acknowledge
# a decoded batch on its way to the commit stage: the messages, their rows and dead letters, who wants a rebirth
Prepared = tuple[list[Received], list[Decoded], list[DeadLetter], set[tuple[str, str]]]


class IngestWorker:
    def __init__(self, database_url: str, broker: BrokerAddress, *, group: str = "+",
                 share_group: str | None = None, edge_node: str | None = None,
                 client_id: str = "forecourt-ingest", host_id: str | None = None,
                 batch_max: int = RECEIVE_WINDOW // 2, batch_wait_s: float = 0.05, rollup_every_s: float = 10.0,
                 stall_after_s: float = 30.0, limits: Limits | None = None) -> None:
        self.database_url = database_url
        self.broker = broker
        self.group = group
        self.share_group = share_group if broker.mqtt5 and edge_node is None else None
        self.edge_node = edge_node
        self.client_id = client_id
        self.host_id = host_id
        self.batch_max = batch_max
        self.batch_wait_s = batch_wait_s
        # in a shared subscription each worker sees only part of a node's data: seq cannot be checked here
        self.decoder = Decoder(check_seq=self.share_group is None, limits=limits)
        self.rollups = RollupJob(database_url, rollup_every_s)
        self.store = BatchStore(database_url, on_points=self.rollups.mark)
        self.host = PrimaryHost(broker, host_id, client_id) if host_id else None
        self.progress = Progress(stall_after_s)
        metrics.STALLED_SECONDS.set_function(lambda: self.progress.stalled_for(time.monotonic()))
        self.subscribed = asyncio.Event()
        self._queue: asyncio.Queue[Received] = asyncio.Queue()
        self._message_counts = {t: metrics.MESSAGES.labels(t.value) for t in MessageType}
        self._rebirth_asked: dict[tuple[str, str], float] = {}
        self._restore_tried: dict[tuple[str, str], float] = {}

    def health(self) -> dict[str, object]:
        """For ``/healthz``: subscribed, and not stalled (messages waiting, nothing committed for a while)."""
        now = time.monotonic()
        stalled = self.progress.stalled(now)
        return {"ok": self.subscribed.is_set() and not stalled, "subscription": self.topic_filter,
                "waiting": self.progress.waiting, "stalled": stalled,
                "seconds_without_commit": round(self.progress.stalled_for(now), 1)}

    @property
    def topic_filters(self) -> list[str]:
        """Without sharing: the whole group. Shared: births and deaths reach every worker (each needs every
        alias), and only the data messages are split between the workers. With ``edge_node`` (a station
        server ingesting its own station): that node's messages only, never shared."""
        if self.edge_node is not None:
            return [topics.node_filter(self.group, self.edge_node)]
        if not self.share_group:
            return [topics.group_filter(self.group)]
        ns, g = topics.NAMESPACE, self.group
        session = [f"{ns}/{g}/{t}/#" for t in ("NBIRTH", "NDEATH", "DBIRTH", "DDEATH")]
        return session + [topics.shared(f"{ns}/{g}/{t}/#", self.share_group) for t in ("NDATA", "DDATA")]

    @property
    def topic_filter(self) -> str:
        return " + ".join(self.topic_filters)

    async def run(self) -> None:
        """Consume until cancelled; reconnect to the broker with back-off when it goes away. The rollup
        refresh runs beside the sessions (it needs no broker)."""
        refresher = asyncio.create_task(self.rollups.run(), name="ingest-rollups")
        try:
            await keep_sessions(self._session, self.subscribed.clear, log)
        finally:
            refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await refresher

    async def _session(self) -> None:
        """One MQTT session. As the primary host it says STATE online (retained; its will says offline)."""
        kwargs = self.broker.client_kwargs()
        kwargs.update(persistent_session(self.client_id, receive_maximum=RECEIVE_WINDOW) if self.broker.mqtt5
                      else {"identifier": self.client_id})
        will = self.host.will() if self.host is not None else None
        async with aiomqtt.Client(will=will, **kwargs) as client, self._presence():
            try:
                if self.broker.mqtt5:
                    ack_after_commit(client)
                self._forget_unacknowledged()
                for topic_filter in self.topic_filters:
                    await client.subscribe(topic_filter, qos=1)
                if self.host is not None:
                    await self.host.announce(client)
                self.subscribed.set()
                log.info("ingest subscribed to %s on %s", self.topic_filter, self.broker.url())
                async with asyncio.TaskGroup() as tasks:
                    tasks.create_task(self._receive(client))
                    tasks.create_task(run_pipeline(self._next_batch, self._prepare,
                                                   lambda prepared: self._commit(client, prepared)))
            except asyncio.CancelledError:
                if self.host is not None:   # a clean stop: offline only if no other worker of the host runs
                    await self.host.stop(client)
                raise
            except BaseException as exc:
                if not _broker_lost(exc):   # not meant to stop: make the broker publish the will
                    log.error("ingest session failed: %r; leaving with the will (STATE offline)", exc)
                    await disconnect_with_will(client, self.broker.mqtt5)
                raise

    def _presence(self) -> contextlib.AbstractAsyncContextManager[None]:
        return self.host.present() if self.host is not None else contextlib.nullcontext()

    async def _receive(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            raw = bytes(message.payload) if isinstance(message.payload, (bytes, bytearray)) else b""
            topic = str(message.topic)
            if self.host is not None and self.host.owns(topic) and await self.host.on_message(client, topic, raw):
                if self.broker.mqtt5:
                    ack(client, message)
                continue
            self._queue.put_nowait((topic, raw, message))
            self.progress.received(time.monotonic())

    def _forget_unacknowledged(self) -> None:
        """A new persistent session: the broker resends what we never acknowledged, so drop our copies."""
        if self.broker.mqtt5:
            while not self._queue.empty():
                self._queue.get_nowait()
            self.progress.reset()

    async def _next_batch(self) -> list[Received]:
        batch = [await self._queue.get()]
        deadline = time.monotonic() + self.batch_wait_s
        while len(batch) < self.batch_max:
            timeout = deadline - time.monotonic()
            if timeout <= 0:
                break
            if not self._queue.empty():          # what already waits costs no timer
                batch.append(self._queue.get_nowait())
                continue
            try:
                async with asyncio.timeout(timeout):   # not wait_for: it can swallow a cancellation on 3.11
                    batch.append(await self._queue.get())
            except TimeoutError:
                break
        return batch

    async def _prepare(self, batch: list[Received]) -> Prepared:
        decoded, dead = await self.decode([(topic, raw) for topic, raw, _ in batch])
        return batch, decoded, dead, {(d.topic.group, d.topic.edge_node) for d in decoded if d.wants_rebirth}

    async def _commit(self, client: aiomqtt.Client, prepared: Prepared) -> None:
        batch, decoded, dead, wants_rebirth = prepared
        await self.store.commit(decoded, dead)
        if self.broker.mqtt5:
            for _, _, message in batch:       # committed: now the broker may forget them
                if message is not None:
                    ack(client, message)
        self.progress.committed(len(batch), time.monotonic())
        metrics.BATCH_SIZE.observe(len(batch))
        metrics.QUEUE_DEPTH.set(self._queue.qsize())
        for group, edge_node in sorted(wants_rebirth):
            await self._ask_rebirth(client, group, edge_node)

    async def decode(self, batch: list[tuple[str, bytes]]) -> tuple[list[Decoded], list[DeadLetter]]:
        decoded: list[Decoded] = []
        dead: list[DeadLetter] = []
        for topic, raw in batch:
            try:
                d = self._decode_one(topic, raw)
                if d is not None and d.verdict is Verdict.UNBORN and await self._restore(d.topic.group,
                                                                                         d.topic.edge_node):
                    d = self._decode_one(topic, raw)     # again, with the aliases from storage
            except UndecodableMessage as exc:
                dead.append(dead_letter(topic, raw, str(exc)))
                log.warning("dead letter from %s: %s", topic[:200], str(exc)[:200])
                continue
            except Exception as exc:                     # a bug must not stop ingest either: keep the message
                dead.append(dead_letter(topic, raw, f"could not decode: {type(exc).__name__}: {exc}"))
                log.exception("dead letter from %s: the decoder failed", topic[:200])
                continue
            if d is None:
                continue
            self._message_counts[d.topic.message_type].inc()
            if d.wants_rebirth:
                metrics.SEQ_GAPS.inc()
            decoded.append(d)
        return decoded, dead

    def _decode_one(self, topic: str, raw: bytes) -> Decoded | None:
        """None for a well-formed STATE (of any host: nothing to store)."""
        if topic.startswith(f"{topics.NAMESPACE}/STATE/"):
            state = read_host_state(raw)
            if state is None:
                raise UndecodableMessage("not a STATE payload (JSON with a boolean online and a timestamp)")
            if self.host is not None and topic == self.host.state_topic and \
                    reaction(state, self.host.session_ms) is Reaction.NOT_A_STATE:
                raise UndecodableMessage(f"STATE stamped {state.timestamp_ms}, far ahead of this host's clock")
            return None
        return self.decoder.decode(topic, raw)

    async def _restore(self, group: str, edge_node: str) -> bool:
        """Data from a node whose births we missed: load its aliases from storage (at most every few seconds)."""
        now = time.monotonic()
        if now - self._restore_tried.get((group, edge_node), -REBIRTH_HOLDOFF_S) < REBIRTH_HOLDOFF_S:
            return False
        self._restore_tried[(group, edge_node)] = now
        registry = await self.store.alias_registry(edge_node)
        if not registry:
            return False
        self.decoder.restore(group, edge_node, registry)
        log.info("restored %d aliases of %s/%s from storage", len(registry), group, edge_node)
        return True

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


def _broker_lost(exc: BaseException) -> bool:
    """A session that ended because the broker went away (or asked for a new session): no will needed."""
    if isinstance(exc, BaseExceptionGroup):
        return all(_broker_lost(e) for e in exc.exceptions)
    return isinstance(exc, (aiomqtt.MqttError, OSError))
