"""Test helper: a Sparkplug edge node reduced to a counter, publishing one metric per DDATA at a steady rate."""

from __future__ import annotations

import asyncio

import aiomqtt

from telemetry.contracts import sparkplug, topics
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.sparkplug import DataType, Metric, Payload
from telemetry.contracts.topics import MessageType

T0 = 1_767_225_600_000   # 2026-01-01T00:00:00Z, ms


async def feed(broker: BrokerAddress, group: str, node: str, count: int, per_second: float,
               progress: list[int] | None = None) -> None:
    """Births, then ``count`` DDATA messages whose value i is stamped T0 + i seconds."""
    async with aiomqtt.Client(**broker.client_kwargs()) as pub:
        await pub.publish(topics.node_topic(group, MessageType.NBIRTH, node),
                          sparkplug.encode(Payload(T0, 0, (Metric("bdSeq", 1, T0, DataType.INT64, 0),))), qos=1)
        await pub.publish(topics.device_topic(group, MessageType.DBIRTH, node, "d"),
                          sparkplug.encode(Payload(T0, 1, (Metric("counter", 2, T0, DataType.INT64, 0),))), qos=1)
        for i in range(1, count + 1):
            body = sparkplug.encode(Payload(T0, (i + 1) % 256, (Metric(None, 2, T0 + i * 1000, DataType.INT64, i),)))
            await pub.publish(topics.device_topic(group, MessageType.DDATA, node, "d"), body, qos=1)
            if progress is not None:
                progress.append(i)
            await asyncio.sleep(1 / per_second)
