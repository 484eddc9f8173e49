"""Runs a process's services together until Ctrl-C (SIGINT) or SIGTERM, then stops all of them cleanly.

When the broker drops an MQTT session, aiomqtt keeps the disconnect error in a future that nobody
reads if the session was busy elsewhere (a publish, a database write) and its ``async with`` then
exits: asyncio would print "Future exception was never retrieved" and a traceback when the client is
collected. The session's end is already logged (naming the broker) by whoever reconnects, so
``quiet_unread_disconnects`` drops exactly those reports — an aiomqtt ``MqttError`` in an unread
future — to DEBUG; every other report goes to the loop's usual handler.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)
UNREAD = "Future exception was never retrieved"


def quiet_unread_disconnects(loop: asyncio.AbstractEventLoop) -> None:
    import aiomqtt

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if context.get("message") == UNREAD and isinstance(context.get("exception"), aiomqtt.MqttError):
            log.debug("an MQTT session's disconnect, already reported: %s", context["exception"])
            return
        loop.default_exception_handler(context)

    loop.set_exception_handler(handler)


async def run_until_stopped(*services: Coroutine[Any, Any, None]) -> None:
    """Run the services as tasks; return when a signal arrives, raise if one of them fails."""
    loop = asyncio.get_running_loop()
    quiet_unread_disconnects(loop)
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
