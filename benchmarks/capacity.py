"""Capacity search, pure: how many devices a node keeps up with, found by bisection over repeated windows.

One measurement window says whether the node kept up (``Window.keeps_up``). A device count passes only
when every one of its windows keeps up, so one lucky window cannot pass a count. ``search`` bisects the
device count between a count known to pass (0) and one assumed to fail; ``spread`` summarises repeated
searches, because on a shared machine one search alone is not a figure.
"""

from __future__ import annotations

import statistics
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

MISSES_MAX = 0.01        # late polls, as a share of the polls of the window
KEEP_UP = 0.97           # polls and DDATA per second, as a share of the devices (1 Hz each)
CPU_MAX = 0.95           # of one core


@dataclass(frozen=True)
class Window:
    devices: int
    seconds: float
    polls_s: float
    ddata_s: float
    misses: float        # late polls in the window
    cpu: float           # share of one core used by the edge process

    def keeps_up(self) -> bool:
        """Polls on time, publishing keeps up with polling (every poll changes every value), under one core."""
        return (self.misses <= MISSES_MAX * self.polls_s * self.seconds and self.cpu < CPU_MAX
                and self.polls_s >= KEEP_UP * self.devices and self.ddata_s >= KEEP_UP * self.devices)


async def passes(devices: int, windows: int, measure: Callable[[int, int], Awaitable[list[Window]]]) -> bool:
    """Whether ``devices`` keep up in all of ``windows`` windows. ``measure(devices, windows)`` may stop early
    after the first window that falls behind (the count has failed already)."""
    measured = await measure(devices, windows)
    return len(measured) == windows and all(w.keeps_up() for w in measured)


async def search(probe: Callable[[int], Awaitable[bool]], most: int, step: int) -> int:
    """The largest multiple of ``step`` up to ``most`` that ``probe`` passes, by bisection; 0 when none does.

    Assumes that a count passes when a larger one does (more devices are never easier)."""
    if most < step or step <= 0:
        raise ValueError(f"need 0 < step <= most (step {step}, most {most})")
    good, bad = 0, (most // step + 1) * step          # 0 devices always keep up; above ``most`` is not tried
    while bad - good > step:
        middle = (good + bad) // 2 // step * step
        if await probe(middle):
            good = middle
        else:
            bad = middle
    return good


@dataclass(frozen=True)
class Spread:
    low: float
    median: float
    high: float

    def __str__(self) -> str:
        return f"min {self.low:g}, median {self.median:g}, max {self.high:g}"


def spread(values: list[float]) -> Spread:
    if not values:
        raise ValueError("no values to summarise")
    return Spread(min(values), statistics.median(values), max(values))
