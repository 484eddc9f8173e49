"""One poller per device connection: the only object that talks to that device.

It reads every planned block on the device's schedule, turns each library error into one
"unavailable" outcome with a reason, and hands a snapshot of typed readings on. When the device
does not answer it reports every point bad (once per outage), backs off exponentially with
jitter, and recovers by itself when the device answers again.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from edge_nodes import metrics
from protocol_adapters.modbus.client import ModbusConnection
from protocol_adapters.modbus.codec import plan_reads
from protocol_adapters.modbus.points import PointSpec
from protocol_adapters.readings import AdapterError, DeviceUnavailable, Reading
from telemetry.contracts.quality import Quality

log = logging.getLogger(__name__)

BACKOFF_MAX_S = 30.0


@dataclass(frozen=True, slots=True)
class Snapshot:
    device: str
    readings: tuple[Reading, ...]
    available: bool
    reason: str = ""


def backoff_delay(failures: int, base: float, rng: random.Random) -> float:
    """Exponential back-off with full jitter: up to base·2^(failures-1), capped."""
    ceiling = min(BACKOFF_MAX_S, base * 2 ** max(0, failures - 1))
    return rng.uniform(base, max(base, ceiling))


class ModbusPoller:
    def __init__(self, device: str, connection: ModbusConnection, points: list[PointSpec],
                 interval_s: float, on_snapshot: Callable[[Snapshot], Awaitable[None]],
                 rng: random.Random | None = None) -> None:
        self.device = device
        self.points = points
        self.blocks = plan_reads(points)
        self.interval_s = interval_s
        self._conn = connection
        self._on_snapshot = on_snapshot
        self._rng = rng or random.Random()
        self.failures = 0

    async def poll_once(self) -> Snapshot:
        now = datetime.now(UTC)
        readings: list[Reading] = []
        try:
            for block in self.blocks:
                values = await self._conn.read(block)
                stamp = datetime.now(UTC)
                readings += [Reading(k, v, stamp) for k, v in values.items()]
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

    async def run(self) -> None:
        """Poll on a fixed schedule (not a fixed delay) until cancelled."""
        next_at = time.monotonic()
        while True:
            started = time.monotonic()
            with metrics.POLL_LATENCY.labels(self.device).time():
                snapshot = await self.poll_once()
            await self._on_snapshot(snapshot)
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
