"""Where customers go: fuelling positions and charger connectors, who holds each, who waits.

A ``Spot`` serves some wants (a grade id as text like ``"92"``, ``"cng"``, ``"lng"``, ``"ev"``)
and is held by one customer from pulling in to driving off (paying included, as at a Chinese
forecourt where the car stays at the pump). A customer who finds no free spot that serves its
want and that the equipment can use now (``usable``: powered, no fault, not blocked by unpaid
sales) joins the queue, unless ``max_queue`` already wait, and leaves after its patience. Spots
are handed out in arrival order whenever one is released and on every ``assign()`` (the scenario
calls it now and then, so a repaired pump takes the waiting cars).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from simulators.scenario.clock import ScenarioClock


@dataclass(eq=False, slots=True)
class Spot:
    kind: str  # "fuel", "cng", "lng", "ev"
    device: str
    point: int  # fuelling point, hose number or connector id
    serves: frozenset[str]
    number: int | None = None  # station-wide fuelling position (what a camera looks at)
    nozzles: dict[int, int] = field(default_factory=dict)  # grade id -> nozzle number
    occupant: str | None = None

    @property
    def label(self) -> str:
        return f"{self.device}/{self.point}"


@dataclass(eq=False, slots=True)
class _Waiter:
    who: str
    want: str
    pick: float
    future: asyncio.Future[Spot | None]


class Lanes:
    def __init__(self, spots: list[Spot], clock: ScenarioClock, usable: Callable[[Spot], bool]) -> None:
        self.spots = spots
        self._clock = clock
        self._usable = usable
        self._waiting: list[_Waiter] = []

    def free(self, want: str) -> list[Spot]:
        return [s for s in self.spots if want in s.serves and s.occupant is None and self._usable(s)]

    def waiting(self, want: str | None = None) -> int:
        return sum(1 for w in self._waiting if want is None or w.want == want)

    def serves(self, want: str) -> bool:
        return any(want in s.serves for s in self.spots)

    def take(self, want: str, who: str, pick: float) -> Spot | None:
        """A free spot for ``want`` now, held for ``who``; None when all are busy or unusable."""
        if any(w.want == want for w in self._waiting):
            return None  # no jumping the queue
        return self._hold(want, who, pick)

    async def wait(self, want: str, who: str, pick: float, patience_s: float) -> Spot | None:
        """Queue for a spot; None when ``patience_s`` ran out first."""
        future: asyncio.Future[Spot | None] = asyncio.get_running_loop().create_future()
        waiter = _Waiter(who, want, pick, future)
        self._waiting.append(waiter)
        timer = asyncio.ensure_future(self._give_up(waiter, patience_s))
        try:
            return await future
        finally:
            timer.cancel()
            if waiter in self._waiting:
                self._waiting.remove(waiter)

    def release(self, spot: Spot) -> None:
        spot.occupant = None
        self.assign()

    def assign(self) -> None:
        """Give free usable spots to waiting customers, first come first served."""
        for waiter in list(self._waiting):
            spot = self._hold(waiter.want, waiter.who, waiter.pick)
            if spot is not None:
                self._waiting.remove(waiter)
                if not waiter.future.done():
                    waiter.future.set_result(spot)

    def _hold(self, want: str, who: str, pick: float) -> Spot | None:
        free = self.free(want)
        if not free:
            return None
        spot = free[min(int(pick * len(free)), len(free) - 1)]
        spot.occupant = who
        return spot

    async def _give_up(self, waiter: _Waiter, patience_s: float) -> None:
        await self._clock.sleep(patience_s)
        if waiter in self._waiting:
            self._waiting.remove(waiter)
            if not waiter.future.done():
                waiter.future.set_result(None)
