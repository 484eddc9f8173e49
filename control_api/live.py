"""Fan-out of PostgreSQL notifications (LISTEN, one connection per API process) to WebSocket clients.

Two channels: ``telemetry_latest`` ("this device changed": a wake-up per (station, device), coalesced) and
``alarm_transitions`` (each alarm transition, in order, to every alarm stream: an ``AlarmFeed`` per client).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict, deque
from collections.abc import Awaitable, Iterator
from typing import Any

import psycopg
from fastapi import WebSocket, WebSocketDisconnect

from telemetry.alarms.repository import CHANNEL as ALARM_CHANNEL

log = logging.getLogger(__name__)

CHANNEL = "telemetry_latest"
DeviceKey = tuple[str, str]


class AlarmFeed:
    """One alarm stream's transitions (the ``alarm_transitions`` payloads), in order. ``None`` from ``take()``
    means some were lost (a client too slow for ``LIMIT`` of them, or the hub's reconnect): start again from a
    snapshot."""

    LIMIT = 1000

    def __init__(self) -> None:
        self._notes: deque[dict[str, Any]] = deque()
        self._lost = False
        self.ready = asyncio.Event()

    def push(self, body: dict[str, Any]) -> None:
        if len(self._notes) >= self.LIMIT:
            self.lost()
            return
        self._notes.append(body)
        self.ready.set()

    def lost(self) -> None:
        self._lost = True
        self._notes.clear()
        self.ready.set()

    def take(self) -> list[dict[str, Any]] | None:
        """What arrived since the last take (maybe nothing), or None when some were lost."""
        self.ready.clear()
        if self._lost:
            self._lost = False
            return None
        notes = list(self._notes)
        self._notes.clear()
        return notes


class LiveHub:
    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self._subscribers: dict[DeviceKey, set[asyncio.Queue[None]]] = defaultdict(set)
        self._alarm_feeds: set[AlarmFeed] = set()
        self.listening = asyncio.Event()

    def subscribe(self, key: DeviceKey) -> asyncio.Queue[None]:
        queue: asyncio.Queue[None] = asyncio.Queue(maxsize=1)
        self._subscribers[key].add(queue)
        return queue

    def unsubscribe(self, key: DeviceKey, queue: asyncio.Queue[None]) -> None:
        self._subscribers[key].discard(queue)
        if not self._subscribers[key]:
            del self._subscribers[key]

    @contextlib.contextmanager
    def alarm_feed(self) -> Iterator[AlarmFeed]:
        """Follow every alarm transition while inside; subscribe before reading a snapshot, so none is missed."""
        feed = AlarmFeed()
        self._alarm_feeds.add(feed)
        try:
            yield feed
        finally:
            self._alarm_feeds.discard(feed)

    @property
    def clients(self) -> int:
        return sum(len(s) for s in self._subscribers.values()) + len(self._alarm_feeds)

    def _dispatch_alarm(self, payload: str) -> None:
        try:
            body = json.loads(payload)
            if not isinstance(body, dict):
                return
        except ValueError:
            return
        for feed in self._alarm_feeds:
            feed.push(body)

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
        """LISTEN until cancelled, reconnecting when the database goes away (alarm streams then start again
        from a snapshot: what was notified meanwhile is lost)."""
        reconnect = False
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.database_url, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    await conn.execute(f"LISTEN {ALARM_CHANNEL}")
                    self.listening.set()
                    if reconnect:
                        for feed in self._alarm_feeds:
                            feed.lost()
                    reconnect = True
                    async for note in conn.notifies():
                        if note.channel == ALARM_CHANNEL:
                            self._dispatch_alarm(note.payload)
                        else:
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
