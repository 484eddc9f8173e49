"""The scenario's clock: a ``SimClock`` whose time moves in fixed ticks, sleepers woken in order.

A plain ``SimClock`` reads the wall clock, so where a customer's coroutine wakes depends on how
busy the event loop was, and two runs with the same seed drift apart. ``ScenarioClock`` keeps the
same interface (``speed``, ``now``, ``elapsed``, ``sleep``) but its time is a whole number of
``TICK_S`` ticks, moved forward only by its own driver task (``run``):

- ``sleep(s)`` parks the caller until the tick at or after ``elapsed() + s`` (never the current one);
- the driver follows real time × ``speed``, but stops at every tick that has sleepers, wakes them
  in the order they went to sleep, and lets them run (a few loop turns) before time moves on;
- when the loop cannot keep up, simulated time slows down rather than skipping anybody;
- ``pause()``/``resume()`` (or ``hold()``) keep time still while work that spans several loop
  turns must happen at one instant (closing time: cancelling arrivals, clearing faults).

So every simulator stepped from this clock is stepped at tick instants only (the dispenser's
physics integrates in steps of the same 0.05 s), and the station's customers, tankers and
faults act at the same simulated instants in every run. Traffic that waits on the network (an
OCPP CSMS answering a card) is the exception: its timing stays real.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import math
import time
from collections.abc import Iterator
from datetime import datetime

from simulators.clock import SimClock

#: One tick of simulated time, seconds (= the dispenser model's integration step).
TICK_S = 0.05
#: Loop turns given to woken coroutines before time moves on (a wake-up may hand on to another).
SETTLE_TURNS = 4
#: Longest real pause of the driver when nobody is due (so a late-comer is not kept waiting).
IDLE_REAL_S = 0.01


class ScenarioClock(SimClock):
    """Simulated UTC time in ticks of ``TICK_S``; ``run()`` must be running for sleepers to wake."""

    def __init__(self, speed: float = 1.0, start: datetime | None = None) -> None:
        super().__init__(speed=speed, start=start)
        self._tick = 0
        self._sleepers: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._holds = 0

    @property
    def tick(self) -> int:
        return self._tick

    def elapsed(self) -> float:
        return self._tick * TICK_S

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        await self._until(self._tick + max(1, math.ceil(seconds / TICK_S - 1e-9)))

    async def sleep_until(self, elapsed_s: float) -> None:
        """Sleep until ``elapsed_s`` simulated seconds after the start (now if already past)."""
        await self.sleep(elapsed_s - self.elapsed())

    async def _until(self, tick: int) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (tick, next(self._order), future))
        await future

    def pause(self) -> None:
        """Keep time still from now until ``resume`` (calls nest); whoever paused must not sleep on the clock."""
        self._holds += 1

    def resume(self) -> None:
        self._holds = max(0, self._holds - 1)

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """``pause`` for the length of a block that spans several loop turns."""
        self.pause()
        try:
            yield
        finally:
            self.resume()

    async def run(self) -> None:
        """Drive time until cancelled: follow real time x speed, stopping at every due tick."""
        real_start, tick_start = time.monotonic(), self._tick
        while True:
            if self._holds:
                await asyncio.sleep(0)
                continue
            target = tick_start + int((time.monotonic() - real_start) * self.speed / TICK_S)
            while self._sleepers and self._sleepers[0][0] <= target and not self._holds:
                due = self._sleepers[0][0]
                self._tick = max(self._tick, due)
                while self._sleepers and self._sleepers[0][0] == due:
                    future = heapq.heappop(self._sleepers)[2]
                    if not future.done():
                        future.set_result(None)
                for _ in range(SETTLE_TURNS):
                    await asyncio.sleep(0)
            if self._holds:
                continue
            self._tick = max(self._tick, target)
            wait = IDLE_REAL_S
            if self._sleepers:
                next_real = real_start + (self._sleepers[0][0] - tick_start) * TICK_S / self.speed
                wait = min(IDLE_REAL_S, max(0.0, next_real - time.monotonic()))
            await asyncio.sleep(wait)

    @property
    def pending(self) -> int:
        """Coroutines asleep on this clock (cancelled ones may still be counted until their tick)."""
        return sum(1 for _, _, future in self._sleepers if not future.done())
