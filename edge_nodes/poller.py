"""One poller per device connection: the only object that talks to that device.

It reads every planned block on the device's schedule, turns each library error into one
"unavailable" outcome with a reason, and hands a snapshot of typed readings on. When the device
does not answer it reports every point bad (once per outage), backs off exponentially with
jitter, and recovers by itself when the device answers again. A cancellation always stops it, even one
the Modbus library swallowed during a read.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from datetime import UTC, datetime

from edge_nodes import metrics
from edge_nodes.source import Emit, MetricSpec, Snapshot
from protocol_adapters.modbus.client import ModbusConnection
from protocol_adapters.modbus.codec import plan_reads
from protocol_adapters.modbus.points import DType, PointSpec, Table
from protocol_adapters.readings import AdapterError, DeviceUnavailable, Reading
from telemetry.contracts.quality import BadReason, Quality
from telemetry.contracts.sparkplug import DataType

log = logging.getLogger(__name__)

BACKOFF_MAX_S = 30.0


def backoff_delay(failures: int, base: float, rng: random.Random, cap: float = BACKOFF_MAX_S) -> float:
    """Exponential back-off with full jitter: up to base·2^(failures-1), capped."""
    ceiling = min(cap, base * 2 ** max(0, failures - 1))
    return rng.uniform(base, max(base, ceiling))


def datatype_of(spec: PointSpec) -> DataType:
    if spec.dtype is DType.BOOL or spec.table in (Table.COIL, Table.DISCRETE):
        return DataType.BOOLEAN
    if spec.integer or (spec.scale == 1.0 and spec.dtype not in (DType.F32, DType.F64)):
        return DataType.INT64
    return DataType.DOUBLE


def _stop_if_cancelled() -> None:
    """Raise the cancellation that pymodbus may have swallowed: on 3.11 its ``asyncio.wait_for`` returns a
    result that arrived with the cancellation (gh-86296), leaving the task "cancelling" but running."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


class ModbusPoller:
    """The device source of one Modbus device (see ``edge_nodes/source.py``)."""

    def __init__(self, device: str, connection: ModbusConnection, points: list[PointSpec],
                 interval_s: float, rng: random.Random | None = None, unit_id: int | None = None) -> None:
        self.code = self.device = device
        self.points = points
        self.metrics = {p.key: MetricSpec(p.key, datatype_of(p), p.unit) for p in points}
        self.blocks = plan_reads(points)
        self.interval_s = interval_s
        self._conn = self.connection = connection
        self.unit_id = unit_id
        self._rng = rng or random.Random()
        self.failures = 0

    async def write(self, key: str, value: object) -> None:
        """Write one writable point (a Sparkplug DCMD); ``ValueError`` for an unknown or read-only point."""
        spec = next((p for p in self.points if p.key == key), None)
        if spec is None or not spec.writable:
            raise ValueError(f"{self.device}: {key!r} is not a writable point")
        if not isinstance(value, (bool, int, float)):
            raise ValueError(f"{self.device}: {key!r} takes a number, got {value!r}")
        await self._conn.write(spec, value, self.unit_id)

    async def poll_once(self) -> Snapshot:
        now = datetime.now(UTC)
        readings: list[Reading] = []
        try:
            for block in self.blocks:
                values = await self._conn.read(block, self.unit_id)
                stamp = datetime.now(UTC)
                readings += [Reading(k, v, stamp) if v is not None
                             else Reading(k, None, stamp, Quality.BAD, BadReason.SENSOR_FAULT.value)
                             for k, v in values.items()]
        except AdapterError as exc:
            metrics.POLLS.labels(self.device, exc.reason).inc()
            metrics.DEVICE_UP.labels(self.device).set(0)
            self.failures += 1
            if self.failures == 1:
                log.warning("device %s unavailable (%s): %s", self.device, exc.reason, exc)
            if isinstance(exc, DeviceUnavailable):
                self._conn.close()
            bad = tuple(Reading(p.key, None, now, Quality.BAD, exc.reason) for p in self.points)
            return Snapshot(self.device, bad, available=False, reason=exc.reason)
        if self.failures:
            log.info("device %s answers again after %d failed polls", self.device, self.failures)
        self.failures = 0
        metrics.POLLS.labels(self.device, "ok").inc()
        metrics.DEVICE_UP.labels(self.device).set(1)
        return Snapshot(self.device, tuple(readings), available=True)

    async def run(self, emit: Emit) -> None:
        """Poll on a fixed schedule (not a fixed delay) until cancelled."""
        next_at = time.monotonic()
        while True:
            started = time.monotonic()
            with metrics.POLL_LATENCY.labels(self.device).time():
                snapshot = await self.poll_once()
            await emit(snapshot)
            _stop_if_cancelled()
            if self.failures:
                await asyncio.sleep(backoff_delay(self.failures, self.interval_s, self._rng))
                next_at = time.monotonic()
                continue
            next_at += self.interval_s
            delay = next_at - time.monotonic()
            if delay < 0:
                metrics.SCHEDULE_MISSES.labels(self.device).inc()
                next_at = started + self.interval_s
                delay = max(0.0, next_at - time.monotonic())
            await asyncio.sleep(delay)
