"""Simulation time: one clock that a whole station runs on, real time or faster.

Physics models never read the wall clock; they are stepped with ``advance(dt)`` by whoever
owns the clock, so a test can run an hour in a loop and a scenario can run 60x real time.

One time base toward the edge: every timestamp that leaves a simulator on its protocol (an OPC UA
source timestamp, a transaction's start and end, a TLS report's time, an OCPP meter value) is
``stamp()``, the wall clock, at any speed; the simulated instant ``now()`` is only shown (the
scenario console, the gas skid's ``SimulatedTime`` variable). So an edge node's points and events
sit on the same time base as the rest of the platform (docs/simulators.md, "Time base").
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta


class SimClock:
    """Simulated UTC time that runs ``speed`` times faster than real time.

    ``now()`` is the simulated instant; ``sleep(s)`` waits ``s`` simulated seconds.
    ``ManualClock`` below is the same interface moved only by ``advance`` (for tests).
    """

    def __init__(self, speed: float = 1.0, start: datetime | None = None) -> None:
        if speed <= 0:
            raise ValueError(f"clock speed must be > 0, got {speed}")
        self.speed = speed
        self._start = start or datetime.now(UTC)
        self._real_start = time.monotonic()

    def elapsed(self) -> float:
        """Simulated seconds since the clock started."""
        return (time.monotonic() - self._real_start) * self.speed

    def now(self) -> datetime:
        """The simulated instant (for display: it may run ahead of, or behind, the wall clock)."""
        return self._start + timedelta(seconds=self.elapsed())

    def stamp(self) -> datetime:
        """The instant written on whatever leaves the simulator: the wall clock (UTC), at any speed."""
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.speed)


class ManualClock(SimClock):
    """A clock that moves only when told to: ``advance(dt)`` in simulated seconds."""

    def __init__(self, start: datetime | None = None) -> None:
        super().__init__(speed=1.0, start=start or datetime(2026, 1, 1, tzinfo=UTC))
        self._elapsed = 0.0

    def elapsed(self) -> float:
        return self._elapsed

    def advance(self, seconds: float) -> None:
        self._elapsed += seconds

    def stamp(self) -> datetime:
        """Tests step time by hand: their stamps follow the manual time, so they stay repeatable."""
        return self.now()

    async def sleep(self, seconds: float) -> None:
        self.advance(seconds)
        await asyncio.sleep(0)
