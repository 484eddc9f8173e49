"""Runs a process's services together until Ctrl-C (SIGINT) or SIGTERM, then stops all of them cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Coroutine
from typing import Any


async def run_until_stopped(*services: Coroutine[Any, Any, None]) -> None:
    """Run the services as tasks; return when a signal arrives, raise if one of them fails."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    tasks = [asyncio.create_task(s) for s in services]
    stopper = asyncio.create_task(stop.wait())
    try:
        done, _ = await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in [*tasks, stopper]:
            t.cancel()
        results = await asyncio.gather(*tasks, stopper, return_exceptions=True)
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
    for t, result in zip(tasks, results, strict=False):
        if t in done and isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
            raise result
