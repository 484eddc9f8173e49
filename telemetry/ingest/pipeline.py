"""Two stages, in order: prepare (decode) batch N+1 while batch N is being committed.

Decoding is Python work on the event loop; committing is mostly waiting for the database. Run one
after the other they never overlap; here the prepare stage runs ahead by at most ``depth`` batches
while the commit stage awaits the database. Batches are committed, and so acknowledged, strictly in
the order they were taken, one at a time. When either stage fails the other is cancelled, and
prepared batches that were not committed are dropped (their messages were never acknowledged, so the
broker delivers them again).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

B = TypeVar("B")
P = TypeVar("P")


async def run_pipeline(take: Callable[[], Awaitable[B]], prepare: Callable[[B], Awaitable[P]],
                             commit: Callable[[P], Awaitable[None]], depth: int = 1) -> None:
    """Forever: ``take`` a batch, ``prepare`` it, ``commit`` it; preparing runs ahead of committing."""
    ready: asyncio.Queue[P] = asyncio.Queue(maxsize=depth)

    async def prepare_stage() -> None:
        while True:
            await ready.put(await prepare(await take()))

    async def commit_stage() -> None:
        while True:
            await commit(await ready.get())

    async with asyncio.TaskGroup() as stages:
        stages.create_task(prepare_stage())
        stages.create_task(commit_stage())
