"""Waiting for a service process: its /healthz answers 200 once it is connected and subscribed."""

from __future__ import annotations

import asyncio
import contextlib

import httpx


async def healthy(port: int, within_s: float = 60) -> None:
    """Until ``http://127.0.0.1:<port>/healthz`` says 200 (a busy machine starts processes slowly)."""
    async with httpx.AsyncClient() as client, asyncio.timeout(within_s):
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                    return
            await asyncio.sleep(0.2)
