"""The control API on a real port for a test (uvicorn through forecourt.services.api_service)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from forecourt.local import free_port, wait_for_port
from forecourt.services import api_service
from telemetry.contracts.broker import BrokerAddress


@contextlib.asynccontextmanager
async def running_api(database_url: str, broker: BrokerAddress | None = None) -> AsyncIterator[int]:
    """Start the API, yield its port, stop it."""
    port = free_port()
    task = asyncio.create_task(api_service(database_url, "127.0.0.1", port, broker))
    try:
        await wait_for_port("127.0.0.1", port)
        yield port
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
