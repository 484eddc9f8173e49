"""Publishes committed ``alarms.outbox`` rows (alarm.* CloudEvents) to MQTT in ``seq`` order, QoS 1.

The same rules as the business outbox (``business_services/outbox.py``, which telemetry may not import): a row is
marked ``published_at`` only after the broker's PUBACK, so delivery is at-least-once with a stable event id (from
alarm_id and seq) and consumers drop a repeat by id; a transition that rolled back was never written, so it is
never published. One publisher at a time holds ``LOCK_KEY`` (others wait and take over); it wakes on
``NOTIFY alarm_outbox`` or every ``poll_s``; an outage ends the session and the next starts after a back-off.
"""

from __future__ import annotations

import asyncio
import logging

import aiomqtt
import psycopg

from protocol_adapters.mqtt.client import count_refused_publishes
from telemetry.alarms.metrics import PUBLISHED
from telemetry.alarms.repository import OUTBOX_CHANNEL
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.events import CloudEvent

log = logging.getLogger(__name__)

LOCK_KEY = 0x0A1A_0001           # pg_advisory_lock key of "the alarm outbox publisher"
BATCH = 200
PUBACK_TIMEOUT_S = 10.0


class PublishRefused(RuntimeError):
    pass


async def drain(conn: psycopg.AsyncConnection, client: aiomqtt.Client, refused: list[int], batch: int = BATCH) -> int:
    cur = await conn.execute("SELECT seq, topic, payload FROM alarms.outbox WHERE published_at IS NULL "
                             "ORDER BY seq LIMIT %s", (batch,))
    rows = await cur.fetchall()
    for seq, topic, payload in rows:
        await client.publish(topic, CloudEvent.model_validate(payload).to_bytes(), qos=1, timeout=PUBACK_TIMEOUT_S)
        if refused:
            raise PublishRefused(f"the broker refused a publish on {topic}")
        await conn.execute("UPDATE alarms.outbox SET published_at = now() WHERE seq = %s", (seq,))
        PUBLISHED.inc()
    return len(rows)


class AlarmPublisher:
    def __init__(self, database_url: str, broker: BrokerAddress, client_id: str, *, poll_s: float = 1.0) -> None:
        self.database_url = database_url
        self.broker = broker
        self.client_id = client_id
        self.poll_s = poll_s
        self.active = asyncio.Event()
        self.published = 0

    async def run(self) -> None:
        delay = 0.5
        while True:
            try:
                await self._session()
            except (psycopg.Error, aiomqtt.MqttError, OSError, PublishRefused) as exc:
                log.warning("alarm publisher stopped (%s: %s); retrying in %.1fs", type(exc).__name__, exc, delay)
            if self.active.is_set():
                self.active.clear()
                delay = 0.5
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)

    async def _session(self) -> None:
        async with await psycopg.AsyncConnection.connect(self.database_url, autocommit=True) as conn:
            await self._wait_for_lock(conn)
            await conn.execute(f"LISTEN {OUTBOX_CHANNEL}")
            refused: list[int] = []
            async with aiomqtt.Client(identifier=self.client_id, **self.broker.client_kwargs()) as client:
                count_refused_publishes(client, lambda: refused.append(1))
                self.active.set()
                while True:
                    sent = await drain(conn, client, refused)
                    self.published += sent
                    if sent == 0:
                        async for _ in conn.notifies(timeout=self.poll_s, stop_after=1):
                            pass

    async def _wait_for_lock(self, conn: psycopg.AsyncConnection) -> None:
        """Become the one publisher: while another process holds the lock, try again every ``poll_s``."""
        while True:
            row = await (await conn.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,))).fetchone()
            if row and row[0]:
                return
            await asyncio.sleep(self.poll_s)
