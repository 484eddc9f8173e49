"""The scenario clock and the lanes: ticks, wake-up order, pausing; spots, queues and patience."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator

import pytest

from simulators.scenario.clock import TICK_S, ScenarioClock
from simulators.scenario.lanes import Lanes, Spot


@pytest.fixture
async def clock() -> AsyncIterator[ScenarioClock]:
    clock = ScenarioClock(speed=5000)
    driver = asyncio.create_task(clock.run())
    yield clock
    driver.cancel()
    await asyncio.gather(driver, return_exceptions=True)


async def test_sleepers_wake_at_their_tick_in_order(clock: ScenarioClock) -> None:
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append((name, round(clock.elapsed() - start, 9)))

    clock.pause()  # all fall asleep at the same instant
    start = clock.elapsed()
    sleepers = [asyncio.create_task(sleeper(name, s)) for name, s in
                (("late", 3.0), ("first", 1.0), ("same-a", 2.0), ("same-b", 2.0), ("tiny", 0.001))]
    await asyncio.sleep(0)
    clock.resume()
    await asyncio.gather(*sleepers)
    assert woke == [("tiny", TICK_S), ("first", 1.0), ("same-a", 2.0), ("same-b", 2.0), ("late", 3.0)]


async def test_time_moves_in_whole_ticks_and_never_backwards(clock: ScenarioClock) -> None:
    seen = []
    for _ in range(20):
        await clock.sleep(0.07)
        seen.append(clock.elapsed())
    assert all(round(t / TICK_S, 9).is_integer() for t in seen)
    assert all(b - a == pytest.approx(2 * TICK_S) for a, b in itertools.pairwise(seen))
    with clock.hold():  # an instant in the past: returns without time having to move
        await asyncio.wait_for(clock.sleep_until(0.0), 1.0)


async def test_a_woken_coroutine_acts_before_time_moves_on(clock: ScenarioClock) -> None:
    """A wake-up that hands over to another coroutine (a released pump) still happens at the same instant,
    even with somebody due one tick later."""
    handed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def releaser() -> None:
        await clock.sleep(1.0)
        handed.set_result(None)

    async def taker() -> float:
        await handed
        await asyncio.sleep(0)  # one more turn of the loop, as a spawned task takes
        return clock.elapsed() - start

    async def next_tick() -> None:
        await clock.sleep(1.0 + TICK_S)

    clock.pause()
    start = clock.elapsed()
    tasks = [asyncio.create_task(releaser()), asyncio.create_task(taker()), asyncio.create_task(next_tick())]
    await asyncio.sleep(0)
    clock.resume()
    await asyncio.gather(*tasks)
    assert tasks[1].result() == pytest.approx(1.0, abs=1e-9)


async def test_pause_keeps_time_still(clock: ScenarioClock) -> None:
    await clock.sleep(0.5)
    with clock.hold():
        before = clock.elapsed()
        await asyncio.sleep(0.02)  # 100 simulated seconds of real time at this speed
        assert clock.elapsed() == before
    await clock.sleep(0.5)
    assert clock.elapsed() == pytest.approx(before + 0.5)


def spots() -> list[Spot]:
    return [Spot("fuel", "disp-01", 1, frozenset({"92", "95"}), 1), Spot("fuel", "disp-01", 2, frozenset({"92"}), 2)]


async def test_free_spots_go_to_who_asks_and_then_to_the_queue_in_order(clock: ScenarioClock) -> None:
    lanes = Lanes(spots(), clock, lambda spot: True)
    a = lanes.take("92", "a", pick=0.0)
    b = lanes.take("92", "b", pick=0.9)
    assert a is not None and b is not None and {a.point, b.point} == {1, 2}
    assert lanes.take("95", "c", pick=0.0) is None
    waiting = [asyncio.create_task(lanes.wait(want, who, 0.0, 60.0)) for want, who in (("95", "c"), ("92", "d"))]
    await clock.sleep(1.0)
    assert lanes.waiting() == 2 and lanes.take("92", "e", 0.0) is None  # no jumping the queue
    lanes.release(b)  # point 2 serves only 92: d gets it, c keeps waiting for point 1
    await clock.sleep(1.0)
    assert waiting[1].done() and waiting[1].result() is b and b.occupant == "d"
    assert not waiting[0].done()
    lanes.release(a)
    assert await waiting[0] is a and a.occupant == "c"


async def test_patience_runs_out_and_unusable_spots_are_not_given(clock: ScenarioClock) -> None:
    usable = {1: False, 2: False}
    lanes = Lanes(spots(), clock, lambda spot: usable[spot.point])
    assert lanes.take("92", "a", 0.0) is None
    started = clock.elapsed()
    assert await lanes.wait("92", "a", 0.0, 30.0) is None
    assert clock.elapsed() - started == pytest.approx(30.0)
    waiting = asyncio.create_task(lanes.wait("92", "b", 0.0, 30.0))
    await clock.sleep(5.0)
    usable[2] = True  # repaired: handed out at the next assign()
    lanes.assign()
    spot = await waiting
    assert spot is not None and spot.point == 2 and lanes.waiting() == 0
