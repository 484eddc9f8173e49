"""The control API on a real port for a test (uvicorn through forecourt.services.api_service)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import httpx
from prometheus_client.parser import text_string_to_metric_families

from forecourt.local import free_port, wait_for_port
from forecourt.roles import Role
from forecourt.services import api_service
from telemetry.contracts.broker import BrokerAddress
from tests.support.auth import TEST_TOKENS, admin_headers


@contextlib.asynccontextmanager
async def running_api(database_url: str, broker: BrokerAddress | None = None,
                      role: Role = Role.HEAD_OFFICE) -> AsyncIterator[int]:
    """Start the API (head office's, or a station server's), yield its port, stop it."""
    port = free_port()
    group = f"t{uuid.uuid4().hex[:10]}"     # its commands on a company of its own (tests share the broker)
    task = asyncio.create_task(api_service(database_url, "127.0.0.1", port, broker, tokens=TEST_TOKENS, role=role,
                                           group=group))
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


async def _idempotency_key(request: httpx.Request) -> None:
    if request.method == "POST" and "idempotency-key" not in request.headers:
        request.headers["Idempotency-Key"] = str(uuid.uuid4())


def client(port: int, *permissions: str, timeout: float = 20) -> httpx.AsyncClient:
    """A client of the API on ``port`` logged in with ``permissions`` (all when none), every station, that
    sends a fresh Idempotency-Key with each POST."""
    return httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=timeout, headers=admin_headers(*permissions),
                             event_hooks={"request": [_idempotency_key]})


def ws_token(*permissions: str) -> str:
    """The ``access_token`` query parameter for a WebSocket."""
    return admin_headers(*permissions)["Authorization"].removeprefix("Bearer ")
