"""Issue 12, item 1: a poison message on any Sparkplug topic family (STATE included) is dead-lettered with its
reason, the good message right after it is committed, the worker keeps running, and a restart does not crash
again. Real broker, real PostgreSQL."""

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
from tests.support.poison import POISON

pytestmark = pytest.mark.integration

FAMILIES = ["NBIRTH", "NDATA", "NDEATH", "NCMD", "DBIRTH", "DDATA", "DDEATH", "DCMD", "STATE"]
T0 = 1_767_225_600_000


@contextlib.asynccontextmanager
async def running(worker: IngestWorker) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(worker.run())
    await asyncio.wait_for(worker.subscribed.wait(), 10)
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _poison_topic(family: str, group: str, node: str, host: str) -> str:
    if family == "STATE":
        return topics.state_topic(host)
    mtype = MessageType(family)
    if mtype in topics.DEVICE_TYPES:
        return topics.device_topic(group, mtype, node, "d")
    return topics.node_topic(group, mtype, node)


def _good(group: str, node: str, value: int) -> list[tuple[str, bytes]]:
    """A whole session of one node: births, then one DDATA carrying ``value``."""
    return [
        (topics.node_topic(group, MessageType.NBIRTH, node),
         encode(Payload(T0, 0, (Metric("bdSeq", 1, T0, DataType.INT64, 0),)))),
        (topics.device_topic(group, MessageType.DBIRTH, node, "d"),
         encode(Payload(T0, 1, (Metric("v", 2, T0, DataType.INT64, 0),)))),
        (topics.device_topic(group, MessageType.DDATA, node, "d"),
         encode(Payload(T0, 2, (Metric(None, 2, T0 + 1000, DataType.INT64, value),)))),
    ]


async def _count(conn: psycopg.AsyncConnection, sql: str, expected: int, within_s: float = 30) -> int:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while True:
        got = int((await (await conn.execute(sql)).fetchone())[0])  # type: ignore[index]
        if got >= expected or loop.time() > deadline:
            return got
        await asyncio.sleep(0.2)


GOOD_VALUES = """SELECT count(*) FROM telemetry.points p JOIN telemetry.metrics m USING (metric_id)
                 WHERE m.name = 'v' AND p.value > 0"""


async def test_poison_on_every_family_is_dead_lettered_and_the_next_message_committed(
        database_url: str, broker: BrokerAddress, group: str) -> None:
    host = f"h-{group}"
    cases = [(family, poison) for family in FAMILIES for poison in POISON]
    # and one for STATE alone: well-formed, but stamped in the far future (it must not make ingest reconnect forever)
    future_state = b'{"online": false, "timestamp": 18446744073709551615}'
    worker = IngestWorker(database_url, broker, group=group, client_id=f"i-{group}", host_id=host,
                          rollup_every_s=0)
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        async with running(worker) as task, aiomqtt.Client(**broker.client_kwargs()) as pub:
            for n, (family, poison) in enumerate(cases, start=1):
                node = f"st-{n}"
                await pub.publish(_poison_topic(family, group, node, host), POISON[poison][0], qos=1)
                for topic, raw in _good(group, node, n):
                    await pub.publish(topic, raw, qos=1)
            await pub.publish(topics.state_topic(host), future_state, qos=1)
            for topic, raw in _good(group, "st-future", len(cases) + 1):
                await pub.publish(topic, raw, qos=1)
            dead = await _count(conn, "SELECT count(*) FROM telemetry.dead_letters", len(cases) + 1)
            good = await _count(conn, GOOD_VALUES, len(cases) + 1)
            assert not task.done(), "the worker keeps running"
        letters = await (await conn.execute("SELECT topic, error FROM telemetry.dead_letters ORDER BY id")).fetchall()
        stored = {int(v) for (v,) in await (await conn.execute(
            """SELECT p.value FROM telemetry.points p JOIN telemetry.metrics m USING (metric_id)
               WHERE m.name = 'v' AND p.value > 0""")).fetchall()}
        assert (dead, good) == (len(cases) + 1, len(cases) + 1)
        assert stored == set(range(1, len(cases) + 2)), "the good message after each poison is committed"
        by_topic = dict(letters)
        for n, (family, poison) in enumerate(cases, start=1):
            topic = _poison_topic(family, group, f"st-{n}", host)
            if family == "STATE":
                assert sum(t == topic for t, _ in letters) == len(POISON) + 1
                continue
            assert POISON[poison][1] in by_topic[topic], (family, poison, by_topic[topic])
        state_reasons = sorted(e for t, e in letters if t == topics.state_topic(host))
        assert sum("not a STATE payload" in e for e in state_reasons) == len(POISON), state_reasons
        assert sum("far ahead of this host's clock" in e for e in state_reasons) == 1, state_reasons

        # a restart (same persistent session) does not crash again and doubles nothing
        again = IngestWorker(database_url, broker, group=group, client_id=f"i-{group}", host_id=host,
                             rollup_every_s=0)
        async with running(again) as task, aiomqtt.Client(**broker.client_kwargs()) as pub:
            for topic, raw in _good(group, "st-after", len(cases) + 2):
                await pub.publish(topic, raw, qos=1)
            assert await _count(conn, GOOD_VALUES, len(cases) + 2) == len(cases) + 2
            await asyncio.sleep(0.5)
            assert not task.done()
        assert await _count(conn, "SELECT count(*) FROM telemetry.dead_letters", 0) == len(cases) + 1
