"""stop_tasks ends tasks that swallow a cancellation, which a plain cancel-and-gather waits on for ever."""

from __future__ import annotations

import asyncio
import contextlib

from simulators.tasks import stop_tasks


async def test_a_task_that_swallows_one_cancellation_is_stopped() -> None:
    swallowed = 0

    async def stubborn() -> None:
        nonlocal swallowed
        with contextlib.suppress(asyncio.CancelledError):   # what wait_for on 3.11 can do
            await asyncio.sleep(60)
        swallowed += 1
        await asyncio.Event().wait()   # carries on waiting, with nothing to wake it

    async def finishing() -> str:
        return "done"

    tasks = [asyncio.create_task(stubborn()), asyncio.create_task(finishing())]
    await asyncio.sleep(0)
    outcomes = await asyncio.wait_for(stop_tasks(tasks), timeout=10)
    assert swallowed == 1
    assert isinstance(outcomes[0], asyncio.CancelledError) and outcomes[1] == "done"
    assert all(t.done() for t in tasks)


async def test_exceptions_are_returned_not_raised() -> None:
    async def failing() -> None:
        raise RuntimeError("broken")

    task = asyncio.create_task(failing())
    await asyncio.sleep(0)
    [outcome] = await stop_tasks([task])
    assert isinstance(outcome, RuntimeError)
