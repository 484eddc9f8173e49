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
from edge_nodes.poller import ModbusPoller, Snapshot, backoff_delay
from edge_nodes.station import ModbusDevice, Station
from protocol_adapters.modbus.client import ModbusConnection
from protocol_adapters.modbus.points import DType, PointSpec
from protocol_adapters.readings import Reading
from telemetry.contracts import sparkplug, topics
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.quality import Quality
from telemetry.contracts.session import BDSEQ_METRIC, REBIRTH_METRIC, EdgeSequencer
from telemetry.contracts.sparkplug import DataType, Metric, Payload
from telemetry.contracts.topics import MessageType

log = logging.getLogger(__name__)


def _ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


def datatype_of(spec: PointSpec) -> DataType:
    if spec.dtype is DType.BOOL or spec.table.value in ("coil", "discrete"):
        return DataType.BOOLEAN
    if spec.integer or (spec.scale == 1.0 and spec.dtype not in (DType.F32, DType.F64)):
        return DataType.INT64
    return DataType.DOUBLE


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
        self.specs = {d.code: {p.key: p for p in d.point_specs()} for d in station.devices}
        self.current: dict[str, dict[str, Reading]] = {d.code: {} for d in station.devices}
        self._sent: dict[str, dict[str, _Sent]] = {d.code: {} for d in station.devices}
        self._queue: asyncio.Queue[Snapshot] = asyncio.Queue(maxsize=10_000)
        self._client: aiomqtt.Client | None = None
        self.connected = asyncio.Event()

    # --- polling --------------------------------------------------------------------------

    def pollers(self) -> list[ModbusPoller]:
        return [ModbusPoller(d.code, self._connection(d), list(self.specs[d.code].values()),
                             d.poll_interval_s, self._enqueue) for d in self.station.devices]

    @staticmethod
    def _connection(device: ModbusDevice) -> ModbusConnection:
        return ModbusConnection(host=device.host, port=device.port, unit_id=device.unit_id,
                                timeout=device.timeout_s)

    async def _enqueue(self, snapshot: Snapshot) -> None:
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
            datatype=datatype_of(spec),
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
        code = self.station.station
        self.sequencer.new_session()
        will = aiomqtt.Will(topics.node_topic(self.group, MessageType.NDEATH, code), self.death(), qos=1)
        kwargs = self.broker.client_kwargs()
        if not self.broker.mqtt5:
            kwargs["clean_session"] = True
        async with aiomqtt.Client(identifier=f"forecourt-edge-{code}", will=will, keepalive=10, **kwargs) as client:
            self._client = client
            await client.subscribe(topics.node_topic(self.group, MessageType.NCMD, code), qos=1)
            # drain what queued while offline: births carry the current values
            while not self._queue.empty():
                self._queue.get_nowait()
            await self._births()
            self.connected.set()
            log.info("edge node %s online at %s (bdSeq %d)", code, self.broker.url(), self.sequencer.bd_seq)
            try:
                async with asyncio.TaskGroup() as tasks:
                    tasks.create_task(self._publish_loop())
                    tasks.create_task(self._command_loop(client))
            except asyncio.CancelledError:
                # a clean stop: say NDEATH ourselves (the will fires only on an unclean loss)
                with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
                    death = topics.node_topic(self.group, MessageType.NDEATH, code)
                    await asyncio.wait_for(client.publish(death, self.death(), qos=1), 2)
                raise

    async def _publish_loop(self) -> None:
        code = self.station.station
        while True:
            snapshot = await self._queue.get()
            metrics.QUEUE_DEPTH.set(self._queue.qsize())
            payload = self.device_data(snapshot)
            if payload is not None:
                await self._publish(topics.device_topic(self.group, MessageType.DDATA, code, snapshot.device),
                                    payload, MessageType.DDATA)

    async def _command_loop(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            try:
                payload = sparkplug.decode(bytes(message.payload))
            except (sparkplug.SparkplugDecodeError, TypeError):
                log.warning("ignored an undecodable NCMD on %s", message.topic)
                continue
            if any(m.name == REBIRTH_METRIC and m.value is True for m in payload.metrics):
                log.info("rebirth requested")
                await self._births()

    async def run(self) -> None:
        """Poll every device and keep an MQTT session up until cancelled."""
        rng = random.Random()
        async with asyncio.TaskGroup() as tasks:
            for poller in self.pollers():
                tasks.create_task(poller.run(), name=f"poll-{poller.device}")
            failures = 0
            while True:
                started = time.monotonic()
                try:
                    await self._session()
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
