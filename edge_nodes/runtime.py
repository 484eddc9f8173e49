"""The edge node: runs one poller per device and publishes what they read as Sparkplug B.

Session: connect with NDEATH (carrying this session's bdSeq) as the MQTT will, publish NBIRTH
and one DBIRTH per device with every metric, its alias, type, unit and current value, then
DDATA with aliases for what changed (report by exception, with a deadband). ``NCMD
Node Control/Rebirth`` makes it publish the births again. When the broker goes away it
reconnects with back-off and births again with the current values.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import aiomqtt

from edge_nodes import metrics
from edge_nodes.poller import backoff_delay
from edge_nodes.source import DeviceSource, Snapshot, SourceContext
from edge_nodes.station import Station
from protocol_adapters.readings import Reading
from telemetry.contracts import sparkplug, topics
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.quality import Quality
from telemetry.contracts.session import BDSEQ_METRIC, REBIRTH_METRIC, EdgeSequencer, parse_host_state
from telemetry.contracts.sparkplug import DataType, Metric, Payload
from telemetry.contracts.topics import MessageType

log = logging.getLogger(__name__)

FIRST_POLL_WAIT_S = 5.0


def _ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


@dataclass(slots=True)
class _Sent:
    value: object
    quality: Quality


class EdgeNode:
    def __init__(self, station: Station, broker: BrokerAddress, *, group: str,
                 primary_host: str | None = None) -> None:
        self.station = station
        self.group = station.group or group
        self.broker = broker
        self.primary_host = primary_host
        self.sequencer = EdgeSequencer()
        self.devices = {d.code: d for d in station.devices}
        context = SourceContext()
        self.sources: list[DeviceSource] = [d.source(context) for d in station.devices]
        self.specs = {s.code: s.metrics for s in self.sources}
        self.current: dict[str, dict[str, Reading]] = {d.code: {} for d in station.devices}
        self._sent: dict[str, dict[str, _Sent]] = {d.code: {} for d in station.devices}
        self._queue: asyncio.Queue[Snapshot] = asyncio.Queue(maxsize=10_000)
        self._client: aiomqtt.Client | None = None
        self.connected = asyncio.Event()
        self._host_online, self._host_lost = asyncio.Event(), asyncio.Event()
        self._first_poll = {s.code: asyncio.Event() for s in self.sources}

    # --- polling --------------------------------------------------------------------------

    async def _enqueue(self, snapshot: Snapshot) -> None:
        self._first_poll[snapshot.device].set()
        for r in snapshot.readings:
            self.current[snapshot.device][r.key] = r
        if self._queue.full():   # a slow broker must not stop polling: drop the oldest snapshot
            self._queue.get_nowait()
        self._queue.put_nowait(snapshot)
        metrics.QUEUE_DEPTH.set(self._queue.qsize())

    # --- Sparkplug messages ---------------------------------------------------------------

    def _metric(self, device: str, reading: Reading, *, birth: bool) -> Metric:
        spec = self.specs[device][reading.key]
        return Metric(
            name=reading.key if birth else None,
            alias=self.sequencer.alias(device, reading.key),
            timestamp_ms=_ms(reading.source_time),
            datatype=spec.datatype,
            value=reading.value,
            quality=reading.quality,
            quality_reason=reading.reason,
            properties={"engUnit": spec.unit} if birth and spec.unit else {},
        )

    def node_birth(self) -> Payload:
        now = _ms(datetime.now(UTC))
        return Payload(now, self.sequencer.birth_seq(), (
            Metric(BDSEQ_METRIC, self.sequencer.alias(None, BDSEQ_METRIC), now, DataType.INT64,
                   self.sequencer.bd_seq),
            Metric(REBIRTH_METRIC, self.sequencer.alias(None, REBIRTH_METRIC), now, DataType.BOOLEAN, False),
        ))

    def device_birth(self, device: str) -> Payload:
        now = datetime.now(UTC)
        readings = [self.current[device].get(key) or Reading(key, None, now, Quality.BAD, "not-yet-read")
                    for key in self.specs[device]]
        self._sent[device] = {r.key: _Sent(r.value, r.quality) for r in readings}
        return Payload(_ms(now), self.sequencer.next_seq(),
                       tuple(self._metric(device, r, birth=True) for r in readings))

    def device_data(self, snapshot: Snapshot) -> Payload | None:
        """Metrics that changed since last sent (deadband on numbers); None when nothing did."""
        deadband = self.devices[snapshot.device].deadband
        sent = self._sent[snapshot.device]
        changed = []
        for r in snapshot.readings:
            prev = sent.get(r.key)
            if prev is not None and prev.quality == r.quality and not _differs(prev.value, r.value, deadband):
                continue
            sent[r.key] = _Sent(r.value, r.quality)
            changed.append(self._metric(snapshot.device, r, birth=False))
        if not changed:
            return None
        return Payload(_ms(datetime.now(UTC)), self.sequencer.next_seq(), tuple(changed))

    def death(self) -> bytes:
        metric = Metric(BDSEQ_METRIC, None, _ms(datetime.now(UTC)), DataType.INT64, self.sequencer.bd_seq)
        return sparkplug.encode(Payload(_ms(datetime.now(UTC)), None, (metric,)))

    # --- MQTT -----------------------------------------------------------------------------

    async def _publish(self, topic: str, payload: Payload, mtype: MessageType, qos: int = 0) -> None:
        if self._client is None:
            raise aiomqtt.MqttError("not connected")
        await self._client.publish(topic, sparkplug.encode(payload), qos=qos)
        metrics.PUBLISHED.labels(mtype.value).inc()

    async def _births(self) -> None:
        code = self.station.station
        await self._publish(topics.node_topic(self.group, MessageType.NBIRTH, code), self.node_birth(),
                            MessageType.NBIRTH)
        for device in self.devices:
            await self._publish(topics.device_topic(self.group, MessageType.DBIRTH, code, device),
                                self.device_birth(device), MessageType.DBIRTH)

    async def _session(self) -> None:
        """One MQTT session: wait for the primary host, birth, publish; ends when the host goes offline."""
        code = self.station.station
        self.sequencer.new_session()
        will = aiomqtt.Will(topics.node_topic(self.group, MessageType.NDEATH, code), self.death(), qos=1)
        kwargs = self.broker.client_kwargs()
        if not self.broker.mqtt5:
            kwargs["clean_session"] = True
        self._host_online, self._host_lost = asyncio.Event(), asyncio.Event()
        async with aiomqtt.Client(identifier=f"forecourt-edge-{code}", will=will, keepalive=10, **kwargs) as client:
            self._client = client
            await client.subscribe(topics.node_topic(self.group, MessageType.NCMD, code), qos=1)
            if self.primary_host:
                await client.subscribe(topics.state_topic(self.primary_host), qos=1)
            else:
                self._host_online.set()
            tasks = [asyncio.create_task(self._live()), asyncio.create_task(self._message_loop(client)),
                     asyncio.create_task(self._host_lost.wait())]
            try:
                done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            except asyncio.CancelledError:
                await self._say_death(client)   # a clean stop: the will fires only on an unclean loss
                raise
            finally:
                for t in tasks:
                    t.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
            for t in done:
                if not t.cancelled() and t.exception() is not None:
                    raise t.exception()  # type: ignore[misc]
            log.info("primary host %s went offline: ending the session and waiting for it", self.primary_host)
            await self._say_death(client)

    async def _say_death(self, client: aiomqtt.Client) -> None:
        self.connected.clear()
        with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
            death = topics.node_topic(self.group, MessageType.NDEATH, self.station.station)
            await asyncio.wait_for(client.publish(death, self.death(), qos=1), 2)

    async def _live(self) -> None:
        if not self._host_online.is_set():
            log.info("waiting for the primary host %s to be online before births", self.primary_host)
        await self._host_online.wait()
        while not self._queue.empty():      # births carry the current values
            self._queue.get_nowait()
        await self._births()
        self.connected.set()
        log.info("edge node %s online at %s (bdSeq %d)", self.station.station, self.broker.url(),
                 self.sequencer.bd_seq)
        await self._publish_loop()

    async def _publish_loop(self) -> None:
        code = self.station.station
        while True:
            snapshot = await self._queue.get()
            metrics.QUEUE_DEPTH.set(self._queue.qsize())
            payload = self.device_data(snapshot)
            if payload is not None:
                await self._publish(topics.device_topic(self.group, MessageType.DDATA, code, snapshot.device),
                                    payload, MessageType.DDATA)

    async def _message_loop(self, client: aiomqtt.Client) -> None:
        state = topics.state_topic(self.primary_host) if self.primary_host else None
        async for message in client.messages:
            raw = message.payload if isinstance(message.payload, (bytes, bytearray)) else b""
            if state is not None and message.topic.matches(state):
                online = parse_host_state(bytes(raw))
                if online:
                    self._host_online.set()
                elif online is False and self._host_online.is_set():
                    self._host_lost.set()
                continue
            try:
                payload = sparkplug.decode(bytes(raw))
            except sparkplug.SparkplugDecodeError:
                log.warning("ignored an undecodable NCMD on %s", message.topic)
                continue
            if self.connected.is_set() and any(m.name == REBIRTH_METRIC and m.value is True
                                               for m in payload.metrics):
                log.info("rebirth requested")
                await self._births()

    async def run(self) -> None:
        """Poll every device and keep an MQTT session up until cancelled."""
        rng = random.Random()
        async with asyncio.TaskGroup() as tasks:
            for source in self.sources:
                tasks.create_task(source.run(self._enqueue), name=f"poll-{source.code}")
            # births should carry real values: give every device one poll first (bounded)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*(e.wait() for e in self._first_poll.values())),
                                       FIRST_POLL_WAIT_S)
            failures = 0
            while True:
                started = time.monotonic()
                try:
                    await self._session()
                    failures = 0   # the host went offline: reconnect at once and wait for it
                except* (aiomqtt.MqttError, OSError) as group:
                    self.connected.clear()
                    metrics.PUBLISH_ERRORS.inc()
                    if time.monotonic() - started > 30:
                        failures = 0
                    failures += 1
                    log.warning("MQTT session ended (%s); reconnecting", group.exceptions[0])
                    await asyncio.sleep(backoff_delay(failures, 0.5, rng))
                finally:
                    self._client = None


def _differs(old: object, new: object, deadband: float) -> bool:
    if isinstance(old, (int, float)) and isinstance(new, (int, float)) and not isinstance(new, bool):
        return abs(float(new) - float(old)) > deadband if deadband else new != old
    return old != new
