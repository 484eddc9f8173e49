"""Fan-out of "this device changed" notifications from PostgreSQL (LISTEN) to WebSocket clients."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from collections.abc import Awaitable

import psycopg
from fastapi import WebSocket, WebSocketDisconnect

log = logging.getLogger(__name__)

CHANNEL = "telemetry_latest"
DeviceKey = tuple[str, str]


class LiveHub:
    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self._subscribers: dict[DeviceKey, set[asyncio.Queue[None]]] = defaultdict(set)
        self.listening = asyncio.Event()

    def subscribe(self, key: DeviceKey) -> asyncio.Queue[None]:
        queue: asyncio.Queue[None] = asyncio.Queue(maxsize=1)
        self._subscribers[key].add(queue)
        return queue

    def unsubscribe(self, key: DeviceKey, queue: asyncio.Queue[None]) -> None:
        self._subscribers[key].discard(queue)
        if not self._subscribers[key]:
            del self._subscribers[key]

    @property
    def clients(self) -> int:
        return sum(len(s) for s in self._subscribers.values())

    def _dispatch(self, payload: str) -> None:
        try:
            body = json.loads(payload)
            key = (str(body["station"]), str(body["device"]))
        except (ValueError, KeyError, TypeError):
            return
        for queue in self._subscribers.get(key, ()):
            with contextlib.suppress(asyncio.QueueFull):  # one pending wake-up is enough
                queue.put_nowait(None)

    async def run(self) -> None:
        """LISTEN until cancelled, reconnecting when the database goes away."""
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.database_url, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    async for note in conn.notifies():
                        self._dispatch(note.payload)
            except psycopg.OperationalError as exc:
                self.listening.clear()
                log.warning("live updates paused, database unavailable: %s", exc)
                await asyncio.sleep(1.0)


async def wait_or_disconnect(websocket: WebSocket, woken: Awaitable[object]) -> None:
    """Wait for ``woken`` (a change to send); raise WebSocketDisconnect if the client leaves meanwhile."""
    receive = asyncio.ensure_future(websocket.receive())
    wake = asyncio.ensure_future(woken)
    done, _ = await asyncio.wait({receive, wake}, return_when=asyncio.FIRST_COMPLETED)
    for task in (receive, wake):
        if task not in done:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    if receive in done and receive.result().get("type") == "websocket.disconnect":
        raise WebSocketDisconnect()
