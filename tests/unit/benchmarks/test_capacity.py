"""The edge benchmark's capacity search: the window rule, bisection over device counts, the spread."""

import pytest

from benchmarks.capacity import Window, passes, search, spread


def _window(devices: int, *, polls: float | None = None, ddata: float | None = None, misses: float = 0,
            cpu: float = 0.5) -> Window:
    return Window(devices, 5.0, devices if polls is None else polls, devices if ddata is None else ddata, misses, cpu)


def test_a_window_keeps_up_only_when_polls_publishing_schedule_and_cpu_all_do() -> None:
    assert _window(600).keeps_up()
    assert not _window(600, polls=570).keeps_up()            # polls fell behind
    assert not _window(600, ddata=570).keeps_up()            # publishing fell behind (the outbox takes the rest)
    assert not _window(600, misses=31).keeps_up()            # over 1 % of 3000 polls late
    assert _window(600, misses=30).keeps_up()
    assert not _window(600, cpu=0.95).keeps_up()             # a full core


async def test_a_count_passes_only_when_every_window_keeps_up() -> None:
    async def one_bad(devices: int, windows: int) -> list[Window]:
        return [_window(devices), _window(devices, ddata=1), _window(devices)][:windows]

    async def all_good(devices: int, windows: int) -> list[Window]:
        return [_window(devices)] * windows

    async def stopped_early(devices: int, windows: int) -> list[Window]:
        return [_window(devices)]        # fewer windows than asked: not a pass

    assert not await passes(600, 3, one_bad)
    assert await passes(600, 3, all_good)
    assert not await passes(600, 3, stopped_early)


@pytest.mark.parametrize("capacity", [0, 49, 50, 120, 600, 649, 650, 1000, 1050])
async def test_bisection_finds_the_largest_passing_multiple_of_the_step(capacity: int) -> None:
    tried: list[int] = []

    async def probe(devices: int) -> bool:
        tried.append(devices)
        return devices <= capacity

    found = await search(probe, 1000, 50)
    assert found == min(capacity // 50 * 50, 1000)
    assert len(tried) <= 5                                    # 21 candidates: log2 of them, not all
    assert all(0 < n <= 1000 and n % 50 == 0 for n in tried)


async def test_search_refuses_a_step_larger_than_the_range() -> None:
    async def probe(devices: int) -> bool:
        return True

    with pytest.raises(ValueError, match="step"):
        await search(probe, 40, 50)


def test_spread_of_repeated_searches() -> None:
    s = spread([600.0, 450.0, 650.0])
    assert (s.low, s.median, s.high) == (450.0, 600.0, 650.0)
    assert str(s) == "min 450, median 600, max 650"
    with pytest.raises(ValueError):
        spread([])
