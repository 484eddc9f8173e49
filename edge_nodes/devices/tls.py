"""Automatic tank gauges that speak the Veeder-Root TLS protocol, over TCP or a serial line.

A station-file entry (``protocol: tls``) builds a ``TlsSource``: the one object that talks to the
console. Each poll asks ``i20100`` (inventory) and ``i20500`` (active alarms), and ``i20200``
(deliveries) at the first poll, when a tank's delivery-in-progress bit falls (its record is then
made) and every ``deliveries_every_s``. A poll is all or nothing:

- the console does not answer → every value bad ``comm-loss``, retried with back-off and jitter;
- ``9999FF1B`` (e.g. a wrong security code) → every value bad ``device-error``, with back-off;
- a bad frame (garbage, truncated, wrong checksum) → the poll is skipped and counted in
  ``forecourt_edge_bad_frames_total{device}``; the values stand until ``BAD_POLLS_BEFORE_BAD``
  polls in a row fail, then they go bad ``bad-frame``.

Without ``tanks`` the tanks are found from the first inventory answer; the metrics are filled in
then, so the device's birth carries them only if the console answered within the edge node's first
poll wait. List the tanks in production.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from datetime import UTC, datetime
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from prometheus_client import Counter
from pydantic import Field, field_validator, model_validator

from edge_nodes import metrics
from edge_nodes.devices.base import Code, DeviceEntry, NodeServices, Watcher, event_watcher, register
from edge_nodes.metrics import REGISTRY as EDGE_REGISTRY
from edge_nodes.poller import backoff_delay
from edge_nodes.source import DeviceSource, Emit, MetricSpec, Snapshot, SourceContext
from edge_nodes.station_events import completed_deliveries
from protocol_adapters.readings import AdapterError, BadFrame, Reading
from protocol_adapters.tls.client import TlsConnection
from protocol_adapters.tls.points import tank_points, tank_readings, unavailable_readings
from protocol_adapters.tls.reports import (
    Inventory,
    TankDeliveries,
    TankStatus,
    decode_deliveries,
    decode_inventory,
    decode_tank_alarms,
)
from telemetry.contracts.quality import BadReason

log = logging.getLogger(__name__)

BAD_FRAMES = Counter("forecourt_edge_bad_frames_total",
                     "TLS answers dropped as garbage, truncated, corrupt or out of turn", ["device"],
                     registry=EDGE_REGISTRY)
BAD_POLLS_BEFORE_BAD = 3

TankNumber = Annotated[int, Field(ge=1, le=99)]


@register
class TlsDevice(DeviceEntry):
    """A TLS console: ``host``/``port`` (TLS-on-TCP, usually 10001) or ``serial_port`` + ``baudrate``."""

    protocol: Literal["tls"]
    code: Code
    host: str | None = None
    port: Annotated[int, Field(ge=1, le=65535)] = 10001
    serial_port: str | None = None
    baudrate: Literal[300, 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200] = 9600
    tanks: tuple[TankNumber, ...] | None = None
    security_code: Annotated[str, Field(pattern=r"^[\x21-\x7e]{6}$")] | None = None
    poll_interval_s: Annotated[float, Field(gt=0, le=3600)] = 10.0
    timeout_s: Annotated[float, Field(gt=0, le=60)] = 2.0
    deliveries_every_s: Annotated[float, Field(gt=0)] = 600.0
    timezone: str = "Asia/Shanghai"   # the console's clock: delivery times are its local time
    deadband: Annotated[float, Field(ge=0)] = 0.0

    @field_validator("tanks")
    @classmethod
    def _unique_tanks(cls, tanks: tuple[int, ...] | None) -> tuple[int, ...] | None:
        if tanks is not None and (not tanks or len(set(tanks)) != len(tanks)):
            raise ValueError("expected a non-empty list of distinct tank numbers (1-99), or no 'tanks' to discover")
        return tanks

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, zone: str) -> str:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {zone!r} (expected e.g. 'Asia/Shanghai')") from None
        return zone

    @model_validator(mode="after")
    def _one_line(self) -> TlsDevice:
        if (self.host is None) == (self.serial_port is None):
            raise ValueError("a tls device needs either 'host' (TCP) or 'serial_port', not both")
        return self

    def source(self, context: SourceContext | None = None) -> TlsSource:
        def count_bad_frame(kind: str) -> None:
            BAD_FRAMES.labels(self.code).inc()
            log.debug("device %s: dropped a %s answer", self.code, kind)

        connection = TlsConnection(host=self.host, port=self.port, serial_port=self.serial_port,
                                   baudrate=self.baudrate, security_code=self.security_code,
                                   timeout=self.timeout_s, on_bad_frame=count_bad_frame)
        return TlsSource(self, connection)

    def watcher(self, source: DeviceSource, node: NodeServices) -> Watcher | None:
        return event_watcher(self.code, node, completed_deliveries)   # a new delivery record: an event


class TlsSource:
    """The device source of one TLS console (see ``edge_nodes/source.py``)."""

    def __init__(self, device: TlsDevice, connection: TlsConnection, rng: random.Random | None = None) -> None:
        self.code = device.code
        self.device = device
        self.connection = connection
        self.zone = ZoneInfo(device.timezone)
        self.tanks: tuple[int, ...] | None = device.tanks
        self.metrics: dict[str, MetricSpec] = {}
        if self.tanks:
            self._announce(self.tanks)
        self.failures = 0      # polls in a row the console did not answer or refused
        self.bad_polls = 0     # polls in a row skipped for a bad frame
        self._rng = rng or random.Random()
        self._deliveries: dict[int, TankDeliveries] = {}
        self._deliveries_at: float | None = None
        self._delivering: set[int] = set()

    def _announce(self, tanks: tuple[int, ...]) -> None:
        # filled in place: the edge node holds this very dict for the device's birth
        self.metrics.update({k: MetricSpec(k, p.datatype, p.unit) for k, p in tank_points(tanks).items()})

    async def poll_once(self) -> Snapshot | None:
        """One poll: a snapshot, or None when it was skipped for a bad frame."""
        try:
            readings = await self._read()
        except AdapterError as exc:
            return self._failed(exc)
        if self.failures or self.bad_polls >= BAD_POLLS_BEFORE_BAD:
            log.info("device %s answers again after %d failed polls", self.code, self.failures + self.bad_polls)
        self.failures = self.bad_polls = 0
        metrics.POLLS.labels(self.code, "ok").inc()
        metrics.DEVICE_UP.labels(self.code).set(1)
        return Snapshot(self.code, tuple(readings), available=True)

    async def _read(self) -> list[Reading]:
        ask = self.connection.ask_report
        inventory = {r.tank: r for r in await ask("i20100", decode_inventory)}
        alarms = {a.tank: a.alarms for a in await ask("i20500", decode_tank_alarms)}
        at = datetime.now(UTC)
        delivering = {t for t, r in inventory.items() if r.status & TankStatus.DELIVERY_IN_PROGRESS}
        due = self._deliveries_at is None or time.monotonic() - self._deliveries_at >= self.device.deliveries_every_s
        if due or self._delivering - delivering:   # a bit fell: that delivery's record is made now
            self._deliveries = {d.tank: d for d in await ask("i20200", decode_deliveries)}
            self._deliveries_at = time.monotonic()
        self._delivering = delivering
        if self.tanks is None:
            self.tanks = tuple(sorted(inventory))
            self._announce(self.tanks)
            log.info("device %s: found tanks %s", self.code, ", ".join(map(str, self.tanks)) or "none")
        return self._readings(inventory, alarms, at)

    def _readings(self, inventory: dict[int, Inventory], alarms: dict[int, tuple[int, ...]],
                  at: datetime) -> list[Reading]:
        out: list[Reading] = []
        for tank in self.tanks or ():
            record = inventory.get(tank)
            if record is None:   # configured, but the console does not report it
                out += unavailable_readings([tank], at, BadReason.DEVICE_ERROR.value)
                continue
            out += tank_readings(tank, record, alarms.get(tank, ()), self._deliveries.get(tank), self.zone, at)
        return out

    def _failed(self, exc: AdapterError) -> Snapshot | None:
        metrics.POLLS.labels(self.code, exc.reason).inc()
        if isinstance(exc, BadFrame):
            self.bad_polls += 1
            if self.bad_polls < BAD_POLLS_BEFORE_BAD:
                log.debug("device %s: poll skipped: %s", self.code, exc)
                return None
        else:
            self.failures += 1
        metrics.DEVICE_UP.labels(self.code).set(0)
        if (self.bad_polls == BAD_POLLS_BEFORE_BAD) if isinstance(exc, BadFrame) else (self.failures == 1):
            log.warning("device %s unavailable (%s): %s", self.code, exc.reason, exc)
        at = datetime.now(UTC)
        readings = unavailable_readings(self.tanks or (), at, exc.reason)
        return Snapshot(self.code, tuple(readings), available=False, reason=exc.reason)

    async def run(self, emit: Emit) -> None:
        """Poll on a fixed schedule (back-off while the console does not answer) until cancelled."""
        next_at = time.monotonic()
        try:
            while True:
                started = time.monotonic()
                with metrics.POLL_LATENCY.labels(self.code).time():
                    snapshot = await self.poll_once()
                if snapshot is not None:
                    await emit(snapshot)
                if self.failures:
                    await asyncio.sleep(backoff_delay(self.failures, self.device.poll_interval_s, self._rng))
                    next_at = time.monotonic()
                    continue
                next_at += self.device.poll_interval_s
                delay = next_at - time.monotonic()
                if delay < 0:
                    metrics.SCHEDULE_MISSES.labels(self.code).inc()
                    next_at = started + self.device.poll_interval_s
                    delay = max(0.0, next_at - time.monotonic())
                await asyncio.sleep(delay)
        finally:
            self.connection.close()

