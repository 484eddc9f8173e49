"""The control API on a real port for a test (uvicorn through forecourt.services.api_service)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
from prometheus_client.parser import text_string_to_metric_families

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


async def refused(http: httpx.AsyncClient, reason: str) -> float:
    """The API's count of requests refused for ``reason``, read from its /metrics."""
    text = (await http.get("/metrics")).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "forecourt_api_refused_requests_total" and sample.labels.get("reason") == reason:
                return sample.value
    return 0.0
