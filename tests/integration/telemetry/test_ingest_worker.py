"""Ingest against a real broker and a real PostgreSQL: rows land once, garbage becomes a dead letter."""

import asyncio
import contextlib
from collections.abc import AsyncIterator

import aiomqtt
import psycopg
import pytest

from telemetry.contracts import topics
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.sparkplug import DataType, Metric, Payload, encode
from telemetry.contracts.topics import MessageType
from telemetry.ingest.worker import IngestWorker

pytestmark = pytest.mark.integration


@contextlib.asynccontextmanager
async def running(worker: IngestWorker) -> AsyncIterator[IngestWorker]:
    task = asyncio.create_task(worker.run())
    await asyncio.wait_for(worker.subscribed.wait(), 10)
    try:
        yield worker
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def wait_for(conn: psycopg.AsyncConnection, sql: str, expected: object, within_s: float = 10) -> object:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while True:
        row = await (await conn.execute(sql)).fetchone()
        value = row[0] if row else None
        if value == expected or loop.time() > deadline:
            return value
        await asyncio.sleep(0.1)


def _messages(group: str) -> list[tuple[str, bytes]]:
    node = topics.node_topic(group, MessageType.NBIRTH, "st-01")
    dev = topics.device_topic(group, MessageType.DBIRTH, "st-01", "disp-01")
    data = topics.device_topic(group, MessageType.DDATA, "st-01", "disp-01")
    return [
        (node, encode(Payload(1000, 0, (Metric("bdSeq", 1, 1000, DataType.INT64, 0),)))),
        (dev, encode(Payload(1000, 1, (Metric("fp1/volume", 2, 1000, DataType.DOUBLE, 0.0,
                                              properties={"engUnit": "L"}),)))),
        (data, encode(Payload(2000, 2, (Metric(None, 2, 2000, DataType.DOUBLE, 1.5),)))),
        (data, b"\x00\xffthis is not protobuf"),
        (data, encode(Payload(3000, 3, (Metric(None, 2, 3000, DataType.DOUBLE, 3.25),)))),
    ]


async def test_points_are_written_and_garbage_goes_to_dead_letters(
        database_url: str, broker: BrokerAddress, group: str) -> None:
    worker = IngestWorker(database_url, broker, group=group, client_id=f"ingest-{group}", rollup_every_s=0)
    async with running(worker), \
            aiomqtt.Client(**broker.client_kwargs()) as pub:
        messages = _messages(group)
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            for topic, raw in messages[:3]:
                await pub.publish(topic, raw, qos=1)
            # a first batch is committed (and the rollups refreshed) before the rest arrives
            assert await wait_for(conn, "SELECT count(*) FROM telemetry.points", 2) == 2
            for topic, raw in messages[3:]:
                await pub.publish(topic, raw, qos=1)
            assert await wait_for(conn, "SELECT count(*) FROM telemetry.points", 3) == 3
            assert await wait_for(conn, "SELECT count(*) FROM telemetry.points_1m", 1) == 1
            assert await wait_for(conn, "SELECT count(*) FROM telemetry.dead_letters", 1) == 1
            topic, payload, error = await (await conn.execute(
                "SELECT topic, payload, error FROM telemetry.dead_letters")).fetchone()  # type: ignore[misc]
            assert topic.endswith("/DDATA/st-01/disp-01") and payload == b"\x00\xffthis is not protobuf"
            assert "Sparkplug" in error
            latest = await (await conn.execute(
                "SELECT l.value, m.unit FROM telemetry.latest l JOIN telemetry.metrics m USING (metric_id)")).fetchone()
            assert latest == (3.25, "L")


async def test_a_redelivered_message_does_not_double_rows(
        database_url: str, broker: BrokerAddress, group: str) -> None:
    messages = _messages(group)
    worker = IngestWorker(database_url, broker, group=group, client_id=f"ingest-{group}", rollup_every_s=0)
    async with running(worker), \
            aiomqtt.Client(**broker.client_kwargs()) as pub:
        for topic, raw in messages[:3]:
            await pub.publish(topic, raw, qos=1)
        await pub.publish(*messages[2], qos=1)  # the same DDATA again (a redelivery)
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            await wait_for(conn, "SELECT count(*) FROM telemetry.points", 2)
            await asyncio.sleep(0.5)
            assert await wait_for(conn, "SELECT count(*) FROM telemetry.points", 2) == 2
