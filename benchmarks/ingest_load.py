"""The load for the ingest benchmark: one edge node's births, then Sparkplug DDATA at full speed.

A publisher from Python reaches only about 100 000 points/s on this machine (paho's per-message cost),
less than one ingest worker takes, so the benchmark publishes the load into the workers' persistent
MQTT sessions while they are stopped and then times how fast they drain it (``bench_ingest.py``).
"""

from __future__ import annotations

import asyncio
import logging

import aiomqtt

from telemetry.contracts import sparkplug, topics
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.sparkplug import DataType, Metric, Payload
from telemetry.contracts.topics import MessageType

T0_MS = 1_767_225_600_000


def bodies(messages: int, metrics: int, first_ms: int) -> list[bytes]:
    """DDATA payloads by alias: message m stamps every metric ``first_ms + m`` (a new point per metric)."""
    return [sparkplug.encode(Payload(first_ms + m, (m + 2) % 256, tuple(
        Metric(None, i + 1, first_ms + m, DataType.DOUBLE, float(m)) for i in range(metrics))))
        for m in range(messages)]


async def publish(broker: BrokerAddress, group: str, node: str, messages: int, metrics: int, day: int = 0) -> None:
    """The node's births, then ``messages`` DDATA of ``metrics`` metrics each, all QoS 1, stamped ``day``
    days after 2026-01-01."""
    t0 = T0_MS + day * 86_400_000
    data = bodies(messages, metrics, t0 + 10)
    async with aiomqtt.Client(**broker.client_kwargs(), max_inflight_messages=1000) as pub:
        birth = Payload(t0, 0, (Metric("bdSeq", 0, t0, DataType.INT64, 0),))
        await pub.publish(topics.node_topic(group, MessageType.NBIRTH, node), sparkplug.encode(birth), qos=1)
        dbirth = Payload(t0, 1, tuple(Metric(f"m{i}", i + 1, t0, DataType.DOUBLE, 0.0) for i in range(metrics)))
        await pub.publish(topics.device_topic(group, MessageType.DBIRTH, node, "d"), sparkplug.encode(dbirth), qos=1)
        data_topic = topics.device_topic(group, MessageType.DDATA, node, "d")
        quiet = logging.getLogger("mqtt")
        level = quiet.level
        quiet.setLevel(logging.ERROR)          # aiomqtt warns of every pending publish beyond ten
        try:
            for i in range(0, len(data), 100):
                await asyncio.gather(*(pub.publish(data_topic, body, qos=1) for body in data[i:i + 100]))
        finally:
            quiet.setLevel(level)
