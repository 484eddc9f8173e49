"""Publishes committed ``alarms.outbox`` rows (alarm.* CloudEvents) to MQTT in ``seq`` order, QoS 1.

The loop is the shared one (``protocol_adapters/mqtt/outbox.py``, also the business outbox's): a row is marked
``published_at`` only after the broker's PUBACK, so delivery is at-least-once with a stable event id (from
alarm_id and seq) and consumers drop a repeat by id; a transition that rolled back was never written, so it is
never published. One publisher at a time holds ``LOCK_KEY`` (others wait and take over); it wakes on
``NOTIFY alarm_outbox`` or every ``poll_s``; an outage ends the session and the next starts after a back-off.
This module keeps the alarm plane's own part: the table's SQL, channel, lock key and metric.
"""

from __future__ import annotations

from protocol_adapters.mqtt.outbox import MqttSink, OutboxLoop, OutboxTable
from telemetry.alarms.metrics import PUBLISHED
from telemetry.alarms.repository import OUTBOX_CHANNEL
from telemetry.contracts.broker import BrokerAddress

LOCK_KEY = 0x0A1A_0001           # pg_advisory_lock key of "the alarm outbox publisher"

TABLE = OutboxTable(
    name="alarm outbox",
    pending_sql="SELECT seq, topic, payload FROM alarms.outbox WHERE published_at IS NULL ORDER BY seq LIMIT %s",
    mark_sql="UPDATE alarms.outbox SET published_at = now() WHERE seq = %s",
    channel=OUTBOX_CHANNEL,
    lock_key=LOCK_KEY,
    on_published=PUBLISHED.inc,
)


class AlarmPublisher(OutboxLoop):
    def __init__(self, database_url: str, broker: BrokerAddress, client_id: str, *, poll_s: float = 1.0) -> None:
        super().__init__(database_url, TABLE, MqttSink(broker, client_id), poll_s=poll_s)
