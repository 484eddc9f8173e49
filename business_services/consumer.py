"""The business plane's event consumer: CloudEvents from MQTT into handlers, each exactly once.

Subscribes (QoS 1, persistent session) to ``forecourt/v1/+/events/#``. For each event, in one
transaction: note its id in ``business.handled_events`` (a repeat stops here), run the handler
registered for its type, commit, and only then acknowledge the MQTT message, so a crash before
the commit makes the broker deliver it again. An event that cannot be read or handled is kept in
``business.event_dead_letters`` and the next one carries on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import aiomqtt
import psycopg
from prometheus_client import Counter
from pydantic import ValidationError

from business_services.fueling.service import on_fueling_completed
from business_services.gas.service import on_gas_fill_completed
from telemetry.contracts.broker import BrokerAddress, ack, ack_after_commit, keep_sessions, persistent_session
from telemetry.contracts.events import CloudEvent
from telemetry.contracts.topics import events_filter

log = logging.getLogger(__name__)

Handler = Callable[[psycopg.AsyncConnection, CloudEvent], Awaitable[None]]

HANDLERS: dict[str, Handler] = {
    "fueling.completed": on_fueling_completed,
    "gas_fill.completed": on_gas_fill_completed,
}

EVENTS = Counter("forecourt_business_events_total", "Events by outcome", ["type", "outcome"])


class EventConsumer:
    def __init__(self, database_url: str, broker: BrokerAddress, *, client_id: str = "forecourt-business",
                 handlers: dict[str, Handler] | None = None) -> None:
        self.database_url = database_url
        self.broker = broker
        self.client_id = client_id
        self.handlers = handlers or HANDLERS
        self.subscribed = asyncio.Event()
        self._conn: psycopg.AsyncConnection | None = None

    async def run(self) -> None:
        await keep_sessions(self._session, self.subscribed.clear, log)

    async def _session(self) -> None:
        kwargs = self.broker.client_kwargs()
        kwargs.update(persistent_session(self.client_id) if self.broker.mqtt5 else
                      {"identifier": self.client_id, "clean_session": False})
        async with aiomqtt.Client(**kwargs) as client:
            ack_after_commit(client)
            await client.subscribe(events_filter(), qos=1)
            self.subscribed.set()
            async for message in client.messages:
                raw = bytes(message.payload) if isinstance(message.payload, (bytes, bytearray)) else b""
                await self._handle_with_retry(str(message.topic), raw)
                ack(client, message)

    async def _handle_with_retry(self, topic: str, raw: bytes) -> None:
        delay = 0.2
        while True:
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = await psycopg.AsyncConnection.connect(self.database_url, autocommit=True)
                await self.handle(self._conn, topic, raw)
                return
            except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
                log.warning("database unavailable (%s); retrying in %.1fs, the event waits", exc, delay)
                self._conn = None
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def handle(self, conn: psycopg.AsyncConnection, topic: str, raw: bytes) -> None:
        try:
            event = CloudEvent.from_bytes(raw)
        except (ValueError, ValidationError) as exc:
            await self._dead_letter(conn, topic, raw, f"not a CloudEvent: {exc}")
            return
        handler = self.handlers.get(event.type)
        if handler is None:
            EVENTS.labels(event.type, "ignored").inc()
            return
        try:
            async with conn.transaction():
                cur = await conn.execute(
                    "INSERT INTO business.handled_events (event_id, event_type) VALUES (%s, %s) "
                    "ON CONFLICT DO NOTHING", (event.id, event.type))
                if cur.rowcount == 0:
                    EVENTS.labels(event.type, "repeat").inc()
                    return
                await handler(conn, event)
        except (ValidationError, ValueError, psycopg.DataError, psycopg.IntegrityError) as exc:
            await self._dead_letter(conn, topic, raw, f"{event.type} {event.id}: {exc}")
            return
        EVENTS.labels(event.type, "handled").inc()

    @staticmethod
    async def _dead_letter(conn: psycopg.AsyncConnection, topic: str, raw: bytes, error: str) -> None:
        log.warning("event dead letter from %s: %s", topic, error)
        EVENTS.labels("?", "dead-letter").inc()
        async with conn.transaction():
            await conn.execute("INSERT INTO business.event_dead_letters (topic, payload, error) VALUES (%s, %s, %s)",
                               (topic, raw, error[:2000]))
