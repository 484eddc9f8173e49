"""The control API on a real port with a known token issuer, and an HTTP client for it (for route tests)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
import uvicorn
from fastapi import FastAPI

from control_api.app import create_app
from control_api.security import TokenIssuer
from forecourt.local import free_port, wait_for_port


@contextlib.asynccontextmanager
async def served_api(database_url: str) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """Yield the app (for ``tests.support.auth.bearer``) and a client of it over HTTP; stop it after."""
    app = create_app(database_url, tokens=TokenIssuer("route-test-secret-of-at-least-32-bytes"))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    try:
        await wait_for_port("127.0.0.1", port)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            yield app, http
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task
