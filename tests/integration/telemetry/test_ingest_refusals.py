"""What gets past the limits but not past the database is found and dead-lettered, the rest of its batch is
committed; a worker that commits nothing while messages wait says so on /healthz; a worker that fails leaves
with its will, so the primary host looks crashed. Real broker, real PostgreSQL."""

import asyncio
import contextlib
import json

import aiomqtt
import psycopg
import pytest

from forecourt.health import serve_health
from forecourt.local import free_port
from forecourt.services import ingest_health, ingest_metrics_text
from telemetry.contracts import topics
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.session import parse_host_state
from telemetry.contracts.sparkplug import DataType, Metric, Payload, encode
from telemetry.contracts.topics import MessageType
from telemetry.ingest.limits import Limits
from telemetry.ingest.worker import IngestWorker
from tests.support.mqtt import recording
from tests.support.poison import LONG_NAME

pytestmark = pytest.mark.integration

T0 = 1_767_225_600_000


async def _scalar(conn: psycopg.AsyncConnection, sql: str, expected: object, within_s: float = 20) -> object:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while True:
        value = (await (await conn.execute(sql)).fetchone())[0]  # type: ignore[index]
        if value == expected or loop.time() > deadline:
            return value
        await asyncio.sleep(0.2)


async def test_a_message_the_database_refuses_is_dead_lettered_and_its_batch_committed(
        database_url: str, broker: BrokerAddress, group: str) -> None:
    # limits loosened so that a 10,000-character name reaches PostgreSQL ("index row requires 10024 bytes")
    worker = IngestWorker(database_url, broker, group=group, client_id=f"i-{group}", batch_wait_s=1.0,
                          limits=Limits(metric_name_chars=100_000))
    node = topics.node_topic(group, MessageType.NBIRTH, "st-1")
    good, bad = (topics.device_topic(group, MessageType.DBIRTH, "st-1", d) for d in ("good", "bad"))
    data = topics.device_topic(group, MessageType.DDATA, "st-1", "good")
    batch = [(node, encode(Payload(T0, 0, (Metric("bdSeq", 1, T0, DataType.INT64, 0),)))),
             (good, encode(Payload(T0, 1, (Metric("v", 2, T0, DataType.INT64, 1),)))),
             (bad, encode(Payload(T0, 2, (Metric(LONG_NAME, 3, T0, DataType.INT64, 1),)))),
             *[(data, encode(Payload(T0, 2 + i, (Metric(None, 2, T0 + i * 1000, DataType.INT64, i),))))
               for i in range(1, 6)]]
    task = asyncio.create_task(worker.run())
    try:
        await asyncio.wait_for(worker.subscribed.wait(), 10)
        async with aiomqtt.Client(**broker.client_kwargs()) as pub:
            for topic, raw in batch:            # within one batch window: one transaction to start with
                await pub.publish(topic, raw, qos=1)
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            assert await _scalar(conn, "SELECT count(*) FROM telemetry.dead_letters", 1) == 1
            assert await _scalar(conn, """SELECT count(*) FROM telemetry.points p JOIN telemetry.metrics m
                                          USING (metric_id) WHERE m.name = 'v'""", 6) == 6
            topic, error = await (await conn.execute(
                "SELECT topic, error FROM telemetry.dead_letters")).fetchone()  # type: ignore[misc]
            online = await (await conn.execute(
                "SELECT online FROM telemetry.sources WHERE station = 'st-1' AND device = ''")).fetchone()
        assert topic == bad and "refused by the database" in error and "index row" in error
        assert online == (True,), "the node's birth in the same batch was committed"
        assert not task.done()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def _get(port: int, path: str) -> tuple[int, dict[str, object]]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    await writer.drain()
    response = await reader.read()
    writer.close()
    head, _, body = response.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


async def test_healthz_turns_red_when_messages_wait_and_nothing_is_committed(
        broker: BrokerAddress, group: str) -> None:
    nowhere = f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"     # a database that is not there
    worker = IngestWorker(nowhere, broker, group=group, client_id=f"i-{group}", stall_after_s=1.0)
    port = free_port()
    server = await serve_health("127.0.0.1", port, ingest_metrics_text, lambda: ingest_health(worker))
    task = asyncio.create_task(worker.run())
    try:
        await asyncio.wait_for(worker.subscribed.wait(), 10)
        assert (await _get(port, "/healthz"))[0] == 200, "subscribed and nothing waiting: healthy"
        async with aiomqtt.Client(**broker.client_kwargs()) as pub:
            await pub.publish(topics.node_topic(group, MessageType.NBIRTH, "st-1"),
                              encode(Payload(T0, 0, (Metric("bdSeq", 1, T0, DataType.INT64, 0),))), qos=1)
        await asyncio.sleep(2.5)
        status, body = await _get(port, "/healthz")
        detail = body["checks"]["worker"]["detail"]
        assert status == 503 and body["status"] == "down" and detail["stalled"] is True and detail["waiting"] == 1
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        server.close()


async def test_a_worker_that_fails_leaves_with_its_will(database_url: str, broker: BrokerAddress, group: str) -> None:
    host = f"h-{group}"
    worker = IngestWorker(database_url, broker, group=group, client_id=f"i-{group}", host_id=host)

    async def broken(batch: object) -> object:
        raise RuntimeError("a bug in ingest")

    worker.decode = broken  # type: ignore[assignment,method-assign]
    async with recording(broker, topics.state_topic(host)) as rec:
        task = asyncio.create_task(worker.run())
        await asyncio.wait_for(worker.subscribed.wait(), 10)
        await rec.wait_until(lambda: [parse_host_state(raw) for _, raw in rec.messages] == [True])
        async with aiomqtt.Client(**broker.client_kwargs()) as pub:
            await pub.publish(topics.node_topic(group, MessageType.NBIRTH, "st-1"), b"anything", qos=1)
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(task, 10)
        await rec.wait_until(lambda: parse_host_state(rec.messages[-1][1]) is False, within_s=10)
    assert task.done() and isinstance(task.exception(), BaseExceptionGroup), "the bug is not swallowed"
