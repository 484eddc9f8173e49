"""The outbox publisher: a committed event reaches the broker once, in order; a rolled-back one never; a
publisher stopped between PUBACK and mark sends the row again with the same id; one publisher at a time."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

import aiomqtt
import psycopg
import pytest

from business_services.audit.model import Actor
from business_services.bootstrap import MemorySink, outbox_publisher
from business_services.outbox import REGISTRY, MqttSink, OutboxPublisher
from business_services.unit_of_work import UnitOfWork
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.events import CloudEvent
from tests.support.events import wait_for

pytestmark = pytest.mark.integration

ACTOR = Actor("system", "test")


def topic(group: str) -> str:
    return f"forecourt/v1/{group}/st-01/events/price.applied"


async def commit(conn: psycopg.AsyncConnection, where: str, version: int) -> str:
    event = CloudEvent(source="head-office", type="price.applied", data={"version": version})
    async with UnitOfWork(conn, ACTOR) as uow:
        uow.emit(where, event)
    return event.id


async def unpublished(conn: psycopg.AsyncConnection) -> int:
    row = await (await conn.execute("SELECT count(*) FROM business.outbox WHERE published_at IS NULL")).fetchone()
    assert row is not None
    return int(row[0])


@contextlib.asynccontextmanager
async def running(publisher: OutboxPublisher) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(publisher.run())
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@contextlib.asynccontextmanager
async def listening(broker: BrokerAddress, group: str) -> AsyncIterator[list[str]]:
    """Event ids as a subscriber receives them, in order."""
    received: list[str] = []
    async with aiomqtt.Client(identifier=f"sub-{group}", **broker.client_kwargs()) as client:
        await client.subscribe(f"forecourt/v1/{group}/+/events/#", qos=1)

        async def collect() -> None:
            async for message in client.messages:
                received.append(json.loads(bytes(message.payload))["id"])   # type: ignore[arg-type]

        task = asyncio.create_task(collect())
        try:
            yield received
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def test_a_committed_event_is_published_once_in_order_and_a_rolled_back_one_never(
        database_url: str, broker: BrokerAddress, group: str) -> None:
    async with (await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn,
                listening(broker, group) as received):
        first = await commit(conn, topic(group), 1)
        with pytest.raises(RuntimeError):
            async with UnitOfWork(conn, ACTOR) as uow:
                uow.emit(topic(group), CloudEvent(source="head-office", type="price.applied", data={"version": 2}))
                raise RuntimeError("the handler failed after emitting")
        second = await commit(conn, topic(group), 3)
        async with running(outbox_publisher(database_url, MqttSink(broker, f"out-{group}"), poll_s=0.2)):
            await wait_for(lambda: _async(len(received) >= 2))
            third = await commit(conn, topic(group), 4)                      # woken by NOTIFY (or the poll)
            await wait_for(lambda: _async(len(received) >= 3))
            await wait_for(lambda: _async_zero(conn))
        assert received == [first, second, third]
        rows = await (await conn.execute("SELECT count(*) FROM business.outbox")).fetchone()
        assert rows == (3,)


async def test_a_publisher_stopped_between_puback_and_mark_sends_the_same_id_again_then_never(
        database_url: str, broker: BrokerAddress, group: str) -> None:
    sink = MqttSink(broker, f"out-{group}")
    async with (await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn,
                listening(broker, group) as received):
        event_id = await commit(conn, topic(group), 1)
        row = await (await conn.execute("SELECT topic, payload FROM business.outbox")).fetchone()
        assert row is not None
        async with sink.connected() as send:                  # published and acknowledged, then the crash
            await send(row[0], CloudEvent.model_validate(row[1]).to_bytes())
        await wait_for(lambda: _async(len(received) == 1))
        assert await unpublished(conn) == 1
        async with running(outbox_publisher(database_url, sink, poll_s=0.2)):
            await wait_for(lambda: _async(len(received) == 2))
            later = await commit(conn, topic(group), 2)
            await wait_for(lambda: _async(len(received) == 3))
        assert received == [event_id, event_id, later]          # at-least-once, the repeat under the same id
        assert await unpublished(conn) == 0


async def test_a_broker_outage_delays_events_and_loses_none(database_url: str) -> None:
    sink = MemorySink()
    sink.fail = True
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        ids = [await commit(conn, "forecourt/v1/g/st-01/events/price.applied", n) for n in range(3)]
        failures_before = failures()
        async with running(outbox_publisher(database_url, sink, poll_s=0.1)):
            await wait_for(lambda: _async(failures() >= failures_before + 2))    # tried, failed, tried again
            assert (await unpublished(conn), sink.sent) == (3, [])
            sink.fail = False                                    # the broker is back: the retry sends all three
            await wait_for(lambda: _async(len(sink.sent) == 3))
            await wait_for(lambda: _async_zero(conn))
    assert [json.loads(body)["id"] for _, body in sink.sent] == ids


async def test_one_publisher_at_a_time_and_the_other_takes_over(database_url: str) -> None:
    first, second = MemorySink(), MemorySink()
    one, two = outbox_publisher(database_url, first, poll_s=0.1), outbox_publisher(database_url, second, poll_s=0.1)
    async with (await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn,
                running(one) as first_task, running(two)):
        await wait_for(lambda: _async(one.active.is_set()))
        early = [await commit(conn, "forecourt/v1/g/st-01/events/price.applied", n) for n in range(5)]
        await wait_for(lambda: _async_zero(conn))
        assert (len(first.sent), second.sent, two.active.is_set()) == (5, [], False)
        first_task.cancel()                                   # the active process stops
        late = await commit(conn, "forecourt/v1/g/st-01/events/price.applied", 9)
        await wait_for(lambda: _async(len(second.sent) == 1))
    assert [json.loads(b)["id"] for _, b in first.sent] == early
    assert [json.loads(b)["id"] for _, b in second.sent] == [late]


def failures() -> float:
    return REGISTRY.get_sample_value("forecourt_business_outbox_failures_total", {"reason": "ConnectionError"}) or 0.0


async def _async(value: bool) -> bool:
    return value


async def _async_zero(conn: psycopg.AsyncConnection) -> bool:
    return await unpublished(conn) == 0


async def test_a_database_outage_keeps_the_publisher_retrying_not_crashed(database_url: str) -> None:
    nowhere = database_url.rsplit("/", 1)[0] + "/no_such_database"
    before = REGISTRY.get_sample_value("forecourt_business_outbox_failures_total",
                                       {"reason": "OperationalError"}) or 0.0
    publisher = outbox_publisher(nowhere, MemorySink(), poll_s=0.1)
    async with running(publisher) as task:
        await wait_for(lambda: _async((REGISTRY.get_sample_value(
            "forecourt_business_outbox_failures_total", {"reason": "OperationalError"}) or 0.0) >= before + 2))
        assert not task.done() and not publisher.active.is_set()


async def test_a_batch_published_together_arrives_in_seq_order(database_url: str, broker: BrokerAddress,
                                                                group: str) -> None:
    async with (await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn,
                listening(broker, group) as received):
        ids = [await commit(conn, topic(group), n) for n in range(120)]
        async with running(outbox_publisher(database_url, MqttSink(broker, f"out-{group}"), poll_s=0.2)):
            await wait_for(lambda: _async(len(received) >= 120))
            await wait_for(lambda: _async_zero(conn))
    assert received == ids


async def test_a_row_that_is_no_cloudevent_stops_the_outbox_not_the_process(database_url: str) -> None:
    sample = ("forecourt_business_outbox_failures_total", {"reason": "unexpected"})
    before = REGISTRY.get_sample_value(*sample) or 0.0
    sink = MemorySink()
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute("INSERT INTO business.outbox (event_id, topic, payload) VALUES ('bad', 't', '{\"x\": 1}')")
        async with running(outbox_publisher(database_url, sink, poll_s=0.1)) as task:
            await wait_for(lambda: _async((REGISTRY.get_sample_value(*sample) or 0.0) >= before + 2))
            assert not task.done() and sink.sent == [] and await unpublished(conn) == 1   # kept, in its place
