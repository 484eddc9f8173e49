"""Says so, loudly, when the MQTT broker throws messages away.

Once a broker has acknowledged a message, the edge node deletes it from its outbox; if the broker then
drops it (a subscriber's queue is full: Mosquitto's ``max_queued_messages`` / ``max_queued_bytes``), it
is gone. Mosquitto counts those in the retained ``$SYS/broker/publish/messages/dropped`` (every
``sys_interval``, 10 s by default). ``DropWatch`` subscribes to it next to the ingest and business
services: a count above zero at start, or any rise later, is a WARNING line and the metrics
``forecourt_broker_dropped_messages`` (the broker's own count) and
``forecourt_broker_dropped_seen_total`` (drops this process saw happen). A broker that publishes no such
topic (amqtt, EMQX: see docs/how-to/mqtt-security.md) leaves both at zero.
"""

from __future__ import annotations

import logging

import aiomqtt
from prometheus_client import CollectorRegistry, Counter, Gauge

from protocol_adapters.mqtt.client import keep_sessions
from telemetry.contracts.broker import BrokerAddress

log = logging.getLogger(__name__)

DROPPED_TOPIC = "$SYS/broker/publish/messages/dropped"
#: The watch's own series: served on the /metrics of the service it runs beside (ingest, business).
REGISTRY = CollectorRegistry(auto_describe=True)
DROPPED = Gauge("forecourt_broker_dropped_messages", "Messages the broker says it dropped since it started ($SYS)",
                registry=REGISTRY)
DROPS_SEEN = Counter("forecourt_broker_dropped_seen_total", "Rises in the broker's dropped-message count seen here",
                     registry=REGISTRY)


def new_drops(previous: int | None, reported: int) -> int:
    """How many drops a report adds: all of them at the first report, the rise after that, and all of them
    again after the broker restarted (its count went down)."""
    if previous is None or reported < previous:
        return reported
    return reported - previous


class DropWatch:
    def __init__(self, broker: BrokerAddress, *, client_id: str) -> None:
        self.broker = broker
        self.client_id = client_id
        self.reported: int | None = None      # the broker's latest count

    async def run(self) -> None:
        await keep_sessions(self._session, lambda: None, log)

    async def _session(self) -> None:
        async with aiomqtt.Client(identifier=self.client_id, **self.broker.client_kwargs()) as client:
            await client.subscribe(DROPPED_TOPIC, qos=0)
            async for message in client.messages:
                payload = message.payload
                try:
                    reported = int(bytes(payload).decode() if isinstance(payload, (bytes, bytearray)) else -1)
                except ValueError:
                    continue
                if reported >= 0:
                    self.observe(reported)

    def observe(self, reported: int) -> None:
        added = new_drops(self.reported, reported)
        self.reported = reported
        DROPPED.set(reported)
        if added > 0:
            DROPS_SEEN.inc(added)
            log.warning("the MQTT broker %s has dropped %d message(s) (%d since it started): a subscriber's queue "
                        "is full and data is being lost; raise max_queued_messages/max_queued_bytes "
                        "(docs/how-to/mqtt-security.md)", self.broker.url(), added, reported)
