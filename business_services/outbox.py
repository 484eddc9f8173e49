"""The business outbox: events that units of work committed to ``business.outbox`` go to MQTT, in ``seq`` order.

The loop itself (QoS 1, mark after the PUBACK, one publisher at a time by advisory lock, wake-up on
``NOTIFY business_outbox`` or every ``poll_s``, back-off through outages) is the shared one in
``protocol_adapters/mqtt/outbox.py``; this module keeps what is the business plane's own: the table's SQL, its
channel and lock key, and its metrics. Delivery is at-least-once with a stable event id, and consumers drop a
repeat by id (``business.handled_events``).
"""

from __future__ import annotations

import psycopg
from prometheus_client import CollectorRegistry, Counter

from protocol_adapters.mqtt.outbox import (
    BATCH,
    PUBACK_TIMEOUT_S,
    MqttSink,
    OutboxLoop,
    OutboxSink,
    OutboxTable,
    PublishRefused,
    Send,
)
from protocol_adapters.mqtt.outbox import drain as drain_table

__all__ = ["BATCH", "FAILURES", "LOCK_KEY", "OUTBOX_CHANNEL", "PUBACK_TIMEOUT_S", "PUBLISHED", "REGISTRY",
           "MqttSink", "OutboxPublisher", "OutboxSink", "PublishRefused", "Send", "drain"]

OUTBOX_CHANNEL = "business_outbox"
LOCK_KEY = 0x0B05_0001            # pg_advisory_lock key of "the outbox publisher"

REGISTRY = CollectorRegistry(auto_describe=True)
PUBLISHED = Counter("forecourt_business_outbox_published_total", "Outbox events the broker acknowledged",
                    registry=REGISTRY)
FAILURES = Counter("forecourt_business_outbox_failures_total", "Outbox sessions ended by an outage or refusal",
                   ["reason"], registry=REGISTRY)

TABLE = OutboxTable(
    name="outbox",
    pending_sql="SELECT seq, topic, payload FROM business.outbox WHERE published_at IS NULL ORDER BY seq LIMIT %s",
    mark_sql="UPDATE business.outbox SET published_at = now() WHERE seq = %s",
    channel=OUTBOX_CHANNEL,
    lock_key=LOCK_KEY,
    on_published=PUBLISHED.inc,
    on_failure=lambda reason: FAILURES.labels(reason).inc(),
)


async def drain(conn: psycopg.AsyncConnection, send: Send, batch: int = BATCH) -> int:
    """Publish the oldest unpublished ``business.outbox`` rows; returns how many (0: the outbox is empty)."""
    return await drain_table(conn, send, TABLE, batch)


class OutboxPublisher(OutboxLoop):
    def __init__(self, database_url: str, sink: OutboxSink, *, poll_s: float = 1.0) -> None:
        super().__init__(database_url, TABLE, sink, poll_s=poll_s)

    def health(self) -> dict[str, object]:
        return {"ok": True, "active": self.active.is_set()}
