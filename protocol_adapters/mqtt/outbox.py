"""The one transactional-outbox publisher: drains a PostgreSQL outbox table to MQTT, in ``seq`` order, QoS 1.

Shared by every plane that keeps an outbox (``business_services/outbox.py`` for ``business.outbox``,
``telemetry/alarms/publisher.py`` for ``alarms.outbox``); each owner keeps its table's SQL, channel, lock key and
metrics and hands them over as an ``OutboxTable``.

A row is published and marked ``published_at`` only after the receiver has it (the broker's PUBACK; a refusal,
e.g. an ACL's "not authorised", counts as not published). So delivery is **at-least-once with a stable event
id**: a publisher stopped between the PUBACK and the mark publishes that row again when it restarts, with the
same CloudEvent ``id``, and consumers drop the repeat by id. An event of a rolled-back transaction was never
written, so it is never published.

One publisher works per table at a time: it holds a PostgreSQL advisory lock (``OutboxTable.lock_key``) on its
connection, so several processes keep one order and never publish a row twice concurrently; the others wait and
take over within ``poll_s`` when the holder's connection ends. The publisher wakes on ``NOTIFY <channel>``
(sent by the writer at commit) or every ``poll_s``. A broker or database outage ends the session; the next
starts after a back-off (0.5 s doubling to 10 s), and what was not marked is sent again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

import aiomqtt
import psycopg

from protocol_adapters.mqtt.client import count_refused_publishes
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.events import CloudEvent

log = logging.getLogger(__name__)

BATCH = 200
PUBACK_TIMEOUT_S = 10.0

Send = Callable[[str, bytes], Awaitable[None]]


class PublishRefused(RuntimeError):
    """The broker answered a publish with a failure reason code (the row stays unpublished)."""


class OutboxSink(Protocol):
    """Where outbox events go: ``connected()`` yields a ``send(topic, body)`` that returns once the receiver
    has the event, and raises when it has not."""

    def connected(self) -> contextlib.AbstractAsyncContextManager[Send]: ...


class MqttSink:
    """The real sink: one MQTT connection, QoS 1 publishes, each awaited until its PUBACK."""

    def __init__(self, broker: BrokerAddress, client_id: str) -> None:
        self.broker = broker
        self.client_id = client_id

    @contextlib.asynccontextmanager
    async def connected(self) -> AsyncIterator[Send]:
        refused: list[int] = []
        async with aiomqtt.Client(identifier=self.client_id, **self.broker.client_kwargs()) as client:
            count_refused_publishes(client, lambda: refused.append(1))

            async def send(topic: str, body: bytes) -> None:
                await client.publish(topic, body, qos=1, timeout=PUBACK_TIMEOUT_S)
                if refused:
                    raise PublishRefused(f"the broker refused a publish on {topic}")

            yield send


def _nothing(*_: object) -> None:
    return None


@dataclass(frozen=True, slots=True)
class OutboxTable:
    """One outbox table, as its owner declares it: ``pending_sql`` selects ``(seq, topic, payload)`` of the
    oldest unpublished rows in ``seq`` order with ``LIMIT %s``; ``mark_sql`` marks one row (``WHERE seq = %s``)
    published. ``on_published()`` and ``on_failure(reason)`` feed the owner's metrics."""

    name: str                      # for logs: "outbox", "alarm outbox"
    pending_sql: str
    mark_sql: str
    channel: str                   # the NOTIFY channel its writers signal at commit
    lock_key: int                  # the pg_advisory_lock key of "this table's publisher"
    on_published: Callable[[], None] = _nothing
    on_failure: Callable[[str], None] = _nothing


async def drain(conn: psycopg.AsyncConnection, send: Send, table: OutboxTable, batch: int = BATCH) -> int:
    """Publish the oldest unpublished rows in ``seq`` order, marking each after its acknowledgement;
    returns how many were published (0: the outbox is empty)."""
    rows = await (await conn.execute(table.pending_sql, (batch,))).fetchall()
    for seq, topic, payload in rows:
        await send(topic, CloudEvent.model_validate(payload).to_bytes())
        await conn.execute(table.mark_sql, (seq,))
        table.on_published()
    return len(rows)


class OutboxLoop:
    """Publishes one outbox table until cancelled, through broker and database outages."""

    def __init__(self, database_url: str, table: OutboxTable, sink: OutboxSink, *, poll_s: float = 1.0) -> None:
        self.database_url = database_url
        self.table = table
        self.sink = sink
        self.poll_s = poll_s
        self.active = asyncio.Event()    # set while this publisher holds the lock and is connected
        self.published = 0

    async def run(self) -> None:
        delay = 0.5
        while True:
            try:
                await self._session()
            except (psycopg.Error, aiomqtt.MqttError, OSError, PublishRefused) as exc:
                reason, level, why = type(exc).__name__, logging.WARNING, f"{type(exc).__name__}: {exc}"
            except Exception as exc:   # e.g. a row that is no CloudEvent: never take the service down with it
                reason, level, why = "unexpected", logging.ERROR, f"{type(exc).__name__}: {exc}"
            if self.active.is_set():   # a session that worked: start the back-off again
                self.active.clear()
                delay = 0.5
            self.table.on_failure(reason)
            log.log(level, "%s publisher stopped (%s); retrying in %.1fs", self.table.name, why, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)

    async def _session(self) -> None:
        async with await psycopg.AsyncConnection.connect(self.database_url, autocommit=True) as conn:
            await self._wait_for_lock(conn)
            await conn.execute(f"LISTEN {self.table.channel}")
            async with self.sink.connected() as send:
                self.active.set()
                log.info("%s publisher active", self.table.name)
                while True:
                    sent = await drain(conn, send, self.table)
                    self.published += sent
                    if sent == 0:
                        async for _ in conn.notifies(timeout=self.poll_s, stop_after=1):
                            pass

    async def _wait_for_lock(self, conn: psycopg.AsyncConnection) -> None:
        """Become the one publisher: while another process holds the lock, try again every ``poll_s``."""
        while True:
            row = await (await conn.execute("SELECT pg_try_advisory_lock(%s)", (self.table.lock_key,))).fetchone()
            if row and row[0]:
                return
            await asyncio.sleep(self.poll_s)
