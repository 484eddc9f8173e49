"""Running a simulator on its own (``python -m simulators.<name>``): until SIGTERM or SIGINT, then clean up.

A simulator that cannot start (its port in use, a serial device missing) ends with one line on
stderr naming the cause and exit code 1, not a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import signal
import sys
from collections.abc import Coroutine
from typing import Any


async def until_terminated(main: Coroutine[Any, Any, None]) -> None:
    """Run ``main`` until SIGTERM or SIGINT, then cancel it so it cleans up (pty links, sockets)."""
    task = asyncio.ensure_future(main)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, task.cancel)
    try:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    except OSError as exc:
        hint = "; choose another --port (0: a free one)" if exc.errno == errno.EADDRINUSE else ""
        print(f"无法启动模拟器 (cannot start the simulator): {exc}{hint}", file=sys.stderr)
        raise SystemExit(1) from None
