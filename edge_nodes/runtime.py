"""The edge node: runs one source per device and publishes what they read as Sparkplug B.

Intake: every snapshot is filtered by exception and committed to the outbox (with any fuelling
transaction it reveals, as an event) before anything is published. Session: connect with NDEATH
(this session's bdSeq) as the MQTT will, wait for the primary host's STATE, publish NBIRTH and a
DBIRTH per device with current values, then drain the outbox: live rows as DDATA, older rows as
historical DDATA, events on their CloudEvents topics, each deleted after the broker's PUBACK. A
device that stops answering gets a DDEATH, and a DBIRTH when it is back. ``NCMD Node
Control/Rebirth`` (by name or alias) repeats the births. When the broker or the host goes away (a
STATE offline no older than the newest STATE seen), the session ends and a new one starts with
back-off; nothing read meanwhile is lost. bdSeq counts CONNECTs and is kept in the outbox across restarts.
What runs for each device (source, watcher, commands) is built by its kind (``edge_nodes/devices/``).
The price set head office sends is kept and applied to the pumps by ``edge_nodes/prices.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import aiomqtt

from edge_nodes import metrics
from edge_nodes.commands import CommandRunner
from edge_nodes.devices.base import NodeServices
from edge_nodes.devices.wiring import DeviceWiring
from edge_nodes.master_data import MasterDataStore, master_data_commands
from edge_nodes.messages import MAX_METRICS_PER_MESSAGE, NodeMessages, ReportByException
from edge_nodes.outbox import EVENT, Outbox, Row
from edge_nodes.poller import backoff_delay
from edge_nodes.prices import PriceKeeper, price_commands
from edge_nodes.source import DeviceSource, Snapshot
from edge_nodes.station import Station
from protocol_adapters.mqtt.client import count_refused_publishes
from protocol_adapters.readings import Reading
from telemetry.contracts import sparkplug, topics
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.commands import commands_filter
from telemetry.contracts.events import CloudEvent
from telemetry.contracts.session import EdgeSequencer, HostStateWatch, asks_rebirth, read_host_state
from telemetry.contracts.topics import MessageType

log = logging.getLogger(__name__)

FIRST_POLL_WAIT_S = 5.0
MQTT_BACKOFF_MAX_S = 10.0
NEXT_BD_SEQ_KEY = "session/next_bd_seq"    # in the outbox's state table: bdSeq counts on across restarts


async def _stopped(tasks: list[asyncio.Task[Any]]) -> None:
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


class EdgeNode:
    def __init__(self, station: Station, broker: BrokerAddress, *, group: str,
                 primary_host: str | None = None, outbox_path: Path | None = None,
                 outbox_max_bytes: int = 256 * 1024 * 1024, master_data_path: Path | None = None,
                 price_set_path: Path | None = None, mqtt_backoff_max_s: float = MQTT_BACKOFF_MAX_S) -> None:
        self.station = station
        self.group = station.group or group
        self.broker = broker
        self.primary_host = primary_host
        self.sequencer = EdgeSequencer()
        self.devices = {d.code: d for d in station.devices}
        self.outbox = Outbox(outbox_path or Path(":memory:"), outbox_max_bytes)
        self.prices = PriceKeeper(station.station, price_set_path, self._emit_event)   # the price set, on disk
        wiring = DeviceWiring(station.devices, NodeServices(station.station, self.outbox, self._emit_event,
                                                            self.prices.price_set_at))
        self.prices.writers = wiring.price_writers
        self.sources: list[DeviceSource] = wiring.sources
        self._watchers = wiring.watchers
        self.master_data = MasterDataStore(master_data_path)   # the list head office pushes, kept on disk
        handlers = {**wiring.commands, **master_data_commands(station.station, self.master_data, self._emit_event),
                    **price_commands(station.station, self.prices)}
        self.commands = CommandRunner(station.station, handlers, self._emit_event, wiring.writers)
        self.messages = NodeMessages(self.group, station.station, self.sequencer,
                                     {s.code: s.metrics for s in self.sources})
        self.current: dict[str, dict[str, Reading]] = {d.code: {} for d in station.devices}
        self.available: dict[str, bool] = {d.code: True for d in station.devices}
        self._announced_alive: dict[str, bool] = {}
        self._rbe = ReportByException()
        self._client: aiomqtt.Client | None = None
        self.connected = asyncio.Event()
        self._host_online, self._host_lost = asyncio.Event(), asyncio.Event()
        self._host_watch = HostStateWatch()    # newest STATE seen, across sessions
        self._first_poll = {s.code: asyncio.Event() for s in self.sources}
        self._command_tasks: set[asyncio.Task[None]] = set()
        self.refused = 0
        self._backoff_max_s = mqtt_backoff_max_s     # the longest wait between two tries to reach the broker

    async def _emit_event(self, event: CloudEvent) -> None:
        await self.outbox.put_event(topics.event_topic(self.group, self.station.station, event.type), event.to_bytes())

    # --- intake: runs in the sources' tasks ----------------------------------------------------

    async def _on_snapshot(self, snapshot: Snapshot) -> None:
        device = snapshot.device
        self._first_poll[device].set()
        watch = self._watchers.get(device)
        before = dict(self.current[device]) if watch is not None else {}
        for r in snapshot.readings:
            self.current[device][r.key] = r
        if watch is not None:         # fuellings, deliveries, gas fills: into the outbox before the readings
            await watch(before, self.current[device])
        changed = self._rbe.changed(device, snapshot.readings, self.devices[device].deadband)
        await self.outbox.put_readings(device, changed)
        if self.available[device] != snapshot.available:
            self.available[device] = snapshot.available
            self.outbox.wake.set()

    # --- publishing ------------------------------------------------------------------------------

    async def _publish(self, topic: str, body: bytes, mtype: str, qos: int = 1) -> None:
        if self._client is None:
            raise aiomqtt.MqttError("not connected")
        await self._client.publish(topic, body, qos=qos)
        metrics.PUBLISHED.labels(mtype).inc()

    async def _births(self) -> None:
        await self._publish(self.messages.topic(MessageType.NBIRTH), self.messages.node_birth(), "NBIRTH", qos=0)
        for device in self.devices:
            await self._device_birth(device)

    async def _device_birth(self, device: str) -> None:
        await self._publish(self.messages.topic(MessageType.DBIRTH, device),
                            self.messages.device_birth(device, self.current[device]), "DBIRTH", qos=0)
        self._announced_alive[device] = True

    async def _device_deaths(self) -> None:
        for device, alive in self.available.items():
            if not alive and self._announced_alive.get(device):
                await self._publish(self.messages.topic(MessageType.DDEATH, device), self.messages.device_death(),
                                    "DDEATH", qos=0)
                self._announced_alive[device] = False
                log.info("device %s is gone: DDEATH", device)

    async def _device_rebirths(self) -> None:
        for device, alive in self.available.items():
            if alive and not self._announced_alive.get(device):
                await self._device_birth(device)
                log.info("device %s is back: DBIRTH", device)

    async def _send(self, rows: list[Row], *, historical: bool) -> None:
        """Publish outbox rows (QoS 1) and forget them once the broker has them all."""
        sends: list[asyncio.Future[None]] = []   # started in row order, so publishes (and seq) keep that order
        batch: list[Reading] = []
        batch_device = ""
        for row in rows:
            if row.kind == EVENT:
                sends.append(asyncio.ensure_future(self._publish(row.target, row.body, "event")))
                continue
            readings = row.readings()
            if historical and row.target == batch_device and len(batch) + len(readings) <= MAX_METRICS_PER_MESSAGE:
                batch += readings
                continue
            if batch:
                sends.append(self._data(batch_device, batch, historical))
            batch, batch_device = readings, row.target
        if batch:
            sends.append(self._data(batch_device, batch, historical))
        refused_before = self.refused
        await asyncio.gather(*sends)
        if self.refused > refused_before:   # keep them: a broker that says no has not got them
            raise aiomqtt.MqttError(f"the broker refused {self.refused - refused_before} publishes (not "
                                    "authorised? check the station's MQTT login and ACL); they stay in the outbox")
        await self.outbox.done([r.id for r in rows])

    def _data(self, device: str, readings: list[Reading], historical: bool) -> asyncio.Future[None]:
        body = self.messages.device_data(device, readings, historical=historical)  # seq taken now, in order
        return asyncio.ensure_future(self._publish(self.messages.topic(MessageType.DDATA, device), body, "DDATA"))

    async def _drain(self) -> None:
        """Publish live rows first, then a slice of the backlog, until cancelled or the session fails."""
        while True:
            self.outbox.wake.clear()
            await self._device_rebirths()
            live = await self.outbox.live()
            await self._send(live, historical=False)
            backlog = await self.outbox.backlog()
            await self._send(backlog, historical=True)
            await self._device_deaths()
            rows, _ = await self.outbox.size()
            metrics.QUEUE_DEPTH.set(rows)
            if not live and not backlog:
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation (gh-86296)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(1.0):
                        await self.outbox.wake.wait()

    # --- the MQTT session ------------------------------------------------------------------------

    async def _session(self) -> None:
        """One MQTT session: wait for the primary host, birth, publish; ends when the host goes offline."""
        self.sequencer.new_session()
        await self.outbox.set_state(NEXT_BD_SEQ_KEY, str(self.sequencer.next_bd_seq))
        will = aiomqtt.Will(self.messages.topic(MessageType.NDEATH), self.messages.node_death(), qos=1)
        kwargs = self.broker.client_kwargs()
        if not self.broker.mqtt5:
            kwargs["clean_session"] = True
        self._host_online, self._host_lost = asyncio.Event(), asyncio.Event()
        identifier = f"forecourt-edge-{self.group}-{self.station.station}"   # unique per company and station
        async with aiomqtt.Client(identifier=identifier, will=will, keepalive=10, **kwargs) as client:
            self._client = client
            count_refused_publishes(client, self._on_refused)
            await client.subscribe(self.messages.topic(MessageType.NCMD), qos=1)
            await client.subscribe(commands_filter(self.group, self.station.station), qos=1)
            await client.subscribe(self.messages.topic(MessageType.DCMD, "+"), qos=1)
            if self.primary_host:
                await client.subscribe(topics.state_topic(self.primary_host), qos=1)
            else:
                self._host_online.set()
            tasks = [asyncio.create_task(self._live()), asyncio.create_task(self._message_loop(client)),
                     asyncio.create_task(self._host_lost.wait())]
            try:
                done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            except asyncio.CancelledError:
                await _stopped(tasks)           # nothing is published after the death certificate
                await self._say_death(client)   # a clean stop: the will fires only on an unclean loss
                raise
            await _stopped(tasks)
            for t in done:
                if not t.cancelled() and t.exception() is not None:
                    raise t.exception()  # type: ignore[misc]
            log.info("primary host %s went offline: ending the session and waiting for it", self.primary_host)
            await self._say_death(client)

    async def _say_death(self, client: aiomqtt.Client) -> None:
        self.connected.clear()
        with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
            async with asyncio.timeout(2):
                await client.publish(self.messages.topic(MessageType.NDEATH), self.messages.node_death(), qos=1)

    async def _live(self) -> None:
        if not self._host_online.is_set():
            log.info("waiting for the primary host %s to be online before births", self.primary_host)
        await self._host_online.wait()
        backlog = await self.outbox.start_session()
        await self._births()
        self.connected.set()
        log.info("edge node %s online at %s (bdSeq %d, %d rows to replay)", self.station.station,
                 self.broker.url(), self.sequencer.bd_seq, backlog)
        await self._drain()

    async def _message_loop(self, client: aiomqtt.Client) -> None:
        state = topics.state_topic(self.primary_host) if self.primary_host else None
        commands = commands_filter(self.group, self.station.station)
        async for message in client.messages:
            raw = bytes(message.payload) if isinstance(message.payload, (bytes, bytearray)) else b""
            if message.topic.matches(commands):
                self._start_command(self.commands.handle(raw))
                continue
            if state is not None and message.topic.matches(state):
                host = read_host_state(raw)
                online = self._host_watch.observe(host) if host is not None else None
                if online:
                    self._host_online.set()
                elif online is False and self._host_online.is_set():
                    self._host_lost.set()
                continue
            try:
                payload = sparkplug.decode(raw)
            except sparkplug.SparkplugDecodeError:
                log.warning("ignored an undecodable command on %s", message.topic)
                continue
            device = str(message.topic).rsplit("/", 1)[-1]
            if f"/{MessageType.DCMD.value}/" in str(message.topic):
                values = {m.name or self.sequencer.name_of(device, m.alias or 0) or f"alias {m.alias}": m.value
                          for m in payload.metrics}
                command_id = f"dcmd/{device}/{payload.timestamp_ms or 0}"
                self._start_command(self.commands.write_metrics(device, values, command_id))
                continue
            if self.connected.is_set() and asks_rebirth(self.sequencer, payload):
                log.info("rebirth requested")
                await self._births()

    def _on_refused(self) -> None:
        self.refused += 1
        metrics.REFUSED.inc()

    def _start_command(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)      # a slow device must not hold up the MQTT messages behind it
        self._command_tasks.add(task)
        task.add_done_callback(self._command_tasks.discard)

    async def run(self) -> None:
        """Read every device and keep an MQTT session up until cancelled."""
        rng = random.Random()
        await self.outbox.open()
        saved_bd_seq = await self.outbox.get_state(NEXT_BD_SEQ_KEY)
        if saved_bd_seq is not None:
            self.sequencer.resume(int(saved_bd_seq))
        try:
            async with asyncio.TaskGroup() as tasks:
                for source in self.sources:
                    tasks.create_task(source.run(self._on_snapshot), name=f"poll-{source.code}")
                tasks.create_task(self.prices.run(), name="prices")   # offline too: the pumps follow the set held
                # births should carry real values: give every device one poll first (bounded)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(FIRST_POLL_WAIT_S):
                        await asyncio.gather(*(e.wait() for e in self._first_poll.values()))
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
                        log.warning("MQTT session with %s ended (%s); reconnecting", self.broker.url(),
                                    group.exceptions[0])
                        await asyncio.sleep(backoff_delay(failures, 0.5, rng, cap=self._backoff_max_s))
                    finally:
                        self._client = None
        finally:
            await self.outbox.close()
