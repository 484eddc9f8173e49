"""The outbox publisher: events that units of work committed to ``business.outbox`` go to MQTT, in ``seq`` order.

A row is published with QoS 1 and marked ``published_at`` only after the broker's PUBACK (a refusal, e.g.
an ACL's "not authorised", counts as not published). So delivery is **at-least-once with a stable event
id**: a publisher stopped between the PUBACK and the mark publishes that row again when it restarts, with
the same CloudEvent ``id``, and consumers drop the repeat by id (``business.handled_events``). An event of a
rolled-back unit of work was never written, so it is never published.

One publisher works at a time: it holds a PostgreSQL advisory lock (``LOCK_KEY``) on its connection, so
several ``forecourt business`` processes (partitions) keep one order and never publish a row twice
concurrently; the others wait and take over within ``poll_s`` when the holder's connection ends. The
publisher wakes on ``NOTIFY business_outbox`` (sent by the unit of work at commit) or every ``poll_s``.
A broker or database outage ends the session; the next starts after a back-off (0.5 s doubling to 10 s),
and what was not marked is sent again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Protocol

import aiomqtt
import psycopg
from prometheus_client import CollectorRegistry, Counter

from protocol_adapters.mqtt.client import count_refused_publishes
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.events import CloudEvent

log = logging.getLogger(__name__)

OUTBOX_CHANNEL = "business_outbox"
LOCK_KEY = 0x0B05_0001            # pg_advisory_lock key of "the outbox publisher"
BATCH = 200
PUBACK_TIMEOUT_S = 10.0

REGISTRY = CollectorRegistry(auto_describe=True)
PUBLISHED = Counter("forecourt_business_outbox_published_total", "Outbox events the broker acknowledged",
                    registry=REGISTRY)
FAILURES = Counter("forecourt_business_outbox_failures_total", "Outbox sessions ended by an outage or refusal",
                   ["reason"], registry=REGISTRY)

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


async def drain(conn: psycopg.AsyncConnection, send: Send, batch: int = BATCH) -> int:
    """Publish the oldest unpublished rows in ``seq`` order, marking each after its acknowledgement;
    returns how many were published (0: the outbox is empty)."""
    cur = await conn.execute("SELECT seq, topic, payload FROM business.outbox WHERE published_at IS NULL "
                             "ORDER BY seq LIMIT %s", (batch,))
    rows = await cur.fetchall()
    for seq, topic, payload in rows:
        await send(topic, CloudEvent.model_validate(payload).to_bytes())
        await conn.execute("UPDATE business.outbox SET published_at = now() WHERE seq = %s", (seq,))
        PUBLISHED.inc()
    return len(rows)


class OutboxPublisher:
    def __init__(self, database_url: str, sink: OutboxSink, *, poll_s: float = 1.0) -> None:
        self.database_url = database_url
        self.sink = sink
        self.poll_s = poll_s
        self.active = asyncio.Event()    # set while this publisher holds the lock and is connected

    def health(self) -> dict[str, object]:
        return {"ok": True, "active": self.active.is_set()}

    async def run(self) -> None:
        """Publish until cancelled, through broker and database outages."""
        delay = 0.5
        while True:
            try:
                await self._session()
            except (psycopg.Error, aiomqtt.MqttError, OSError, PublishRefused) as exc:
                reason, level, why = type(exc).__name__, logging.WARNING, f"{type(exc).__name__}: {exc}"
            except Exception as exc:   # e.g. a row that is no CloudEvent: never take the consumer down with it
                reason, level, why = "unexpected", logging.ERROR, f"{type(exc).__name__}: {exc}"
            if self.active.is_set():   # a session that worked: start the back-off again
                self.active.clear()
                delay = 0.5
            FAILURES.labels(reason).inc()
            log.log(level, "outbox publisher stopped (%s); retrying in %.1fs", why, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)

    async def _session(self) -> None:
        async with await psycopg.AsyncConnection.connect(self.database_url, autocommit=True) as conn:
            await self._wait_for_lock(conn)
            await conn.execute(f"LISTEN {OUTBOX_CHANNEL}")
            async with self.sink.connected() as send:
                self.active.set()
                log.info("outbox publisher active")
                while True:
                    if await drain(conn, send) == 0:
                        async for _ in conn.notifies(timeout=self.poll_s, stop_after=1):
                            pass

    async def _wait_for_lock(self, conn: psycopg.AsyncConnection) -> None:
        """Become the one publisher: while another process holds the lock, try again every ``poll_s``."""
        while True:
            row = await (await conn.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,))).fetchone()
            if row and row[0]:
                return
            await asyncio.sleep(self.poll_s)
