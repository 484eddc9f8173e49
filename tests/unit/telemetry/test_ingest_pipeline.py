"""The ingest pipeline: batch N+1 is prepared while batch N commits; commits (and so acks) stay in order."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from telemetry.ingest.pipeline import run_pipeline


class Stop(Exception):
    pass


async def test_commits_in_order_while_the_next_batch_is_prepared() -> None:
    events: list[tuple[str, int]] = []
    batches = itertools.count()

    async def take() -> int:
        return next(batches)

    async def prepare(n: int) -> int:
        events.append(("prepare", n))
        await asyncio.sleep(0.001 * (5 - n))        # later batches prepare faster: order must not follow speed
        return n

    async def commit(n: int) -> None:
        events.append(("commit-start", n))
        await asyncio.sleep(0.01)                   # the database's part: the event loop is free meanwhile
        events.append(("commit-end", n))
        if n == 4:
            raise Stop

    with pytest.raises(ExceptionGroup) as stopped:
        await run_pipeline(take, prepare, commit)
    assert stopped.value.subgroup(Stop) is not None
    assert [n for what, n in events if what == "commit-end"] == [0, 1, 2, 3, 4]
    # batch 1 was decoded while batch 0 was still being committed: the two stages overlap
    assert events.index(("prepare", 1)) < events.index(("commit-end", 0))
    # and the prepare stage runs at most one batch ahead of the commit waiting for it
    assert events.index(("prepare", 3)) > events.index(("commit-start", 1))


async def test_a_failed_commit_stops_the_pipeline_and_commits_nothing_after_it() -> None:
    committed: list[int] = []
    batches = itertools.count()

    async def take() -> int:
        return next(batches)

    async def prepare(n: int) -> int:
        return n

    async def commit(n: int) -> None:
        if n == 2:
            raise Stop
        committed.append(n)

    with pytest.raises(ExceptionGroup) as stopped:
        await run_pipeline(take, prepare, commit)
    assert stopped.value.subgroup(Stop) is not None
    assert committed == [0, 1]
