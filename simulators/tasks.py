"""Stopping a simulator's tasks for certain."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

#: how long a cancelled task gets before it is asked again
RETRY_CANCEL_S = 0.5


async def stop_tasks(tasks: Iterable[asyncio.Task[Any]]) -> list[BaseException | Any]:
    """Cancel ``tasks`` and wait until every one has ended; their results or exceptions, in order
    (like ``asyncio.gather(..., return_exceptions=True)``).

    On Python 3.11 ``asyncio.wait_for`` (the ocpp library waits for answers with it) swallows a
    cancellation that arrives as its inner future completes: the task carries on, and a plain
    cancel-and-gather waits for ever. So a task still running after a moment is cancelled again.
    """
    tasks = list(tasks)
    for task in tasks:
        task.cancel()
    pending = {t for t in tasks if not t.done()}
    while pending:
        _, pending = await asyncio.wait(pending, timeout=RETRY_CANCEL_S)
        for task in pending:
            task.cancel()
    return [_outcome(t) for t in tasks]


def _outcome(task: asyncio.Task[Any]) -> BaseException | Any:
    if task.cancelled():
        return asyncio.CancelledError()
    return task.exception() or task.result()
