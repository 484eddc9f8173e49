"""The vision service's event queue on disk (vision/events.py) with the real broker and head office's real consumer:
recognitions queued while the broker's port is closed survive a restart of the queue object and are delivered
after it, in order, each once per event id downstream; the queue is bounded (the oldest dropped and counted); an
unreadable queue file or row is set aside and counted, never a crash."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import aiomqtt
import psycopg
import pytest

from business_services.bootstrap import build_bus
from business_services.consumer import EVENTS, EventConsumer
from forecourt.local import free_port
from forecourt.roles import Role, policy
from forecourt.settings import Settings
from protocol_adapters.mqtt.outbox import MqttSink
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.events import CloudEvent
from telemetry.contracts.events.vision import VehicleRecognized
from telemetry.contracts.topics import events_filter
from tests.support.events import running, wait_for
from vision.cameras import CameraBinding
from vision.events import CORRUPT, FULL, UNWRITABLE, EventQueue, queue_file
from vision.metrics import SKIPPED
from vision.service import vision_for

pytestmark = pytest.mark.integration

STATION = "st-01"


def recognition(minute: int, plate: str = "皖AY339S") -> CloudEvent:
    seen = VehicleRecognized(station=STATION, camera="GATE-IN", direction="entry", plate=plate, colour="blue",
                             confidence=0.98, frames=3, seen_at=datetime(2026, 12, 5, 8, minute, tzinfo=UTC))
    return seen.envelope(source=f"forecourt/vision/{STATION}", event_id=seen.event_id(), time=seen.seen_at)


def skipped(reason: str) -> float:
    return SKIPPED.labels("-", reason)._value.get()  # type: ignore[attr-defined, no-any-return]


def repeats() -> float:
    return EVENTS.labels(VehicleRecognized.TYPE, "repeat")._value.get()  # type: ignore[attr-defined, no-any-return]


def nowhere() -> BrokerAddress:
    """A broker address whose port nobody listens on: the broker is away."""
    return BrokerAddress("127.0.0.1", free_port())


@contextlib.asynccontextmanager
async def delivering(queue: EventQueue) -> AsyncIterator[None]:
    task = asyncio.create_task(queue.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@contextlib.asynccontextmanager
async def watching(broker: BrokerAddress, group: str) -> AsyncIterator[list[CloudEvent]]:
    """Every event the broker passes on the station's event topics, as it arrives."""
    received: list[CloudEvent] = []
    async with aiomqtt.Client(identifier=f"watch-{group}", **broker.client_kwargs()) as watch:
        await watch.subscribe(events_filter(group, STATION), qos=1)

        async def collect() -> None:
            async for message in watch.messages:
                received.append(CloudEvent.from_bytes(bytes(message.payload)))  # type: ignore[arg-type]

        collector = asyncio.create_task(collect())
        try:
            yield received
        finally:
            collector.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await collector


async def test_recognitions_queued_while_the_broker_is_away_survive_a_restart_and_arrive_once(
        tmp_path: Path, database_url: str, broker: BrokerAddress, group: str) -> None:
    settings = Settings(data_dir=tmp_path, group=group)
    path = queue_file(tmp_path)
    first, second = recognition(0), recognition(5, plate="皖AD14488")
    service, away, sweep = vision_for(settings, STATION, [CameraBinding("GATE-IN", "http://127.0.0.1:9/x.jpg",
                                                                        direction="entry")], nowhere())
    sweep.close()                                 # the service as `forecourt vision serve` makes it, broker away
    assert away.path == path
    async with delivering(away):
        await away.put(first)
        await away.put(second)
        await away.put(first)                     # the same event again (a retried put): one passage downstream
        assert await away.pending() == 3
        assert not away.connected
    assert path.exists()                          # the service died here: what it held is on disk

    consumer = EventConsumer(database_url, broker, client_id=f"ho-{group}", group=group,
                             bus=build_bus(policy(Role.HEAD_OFFICE).contexts))
    service, restarted, sweep = vision_for(settings, STATION, list(service.cameras[c].binding for c in service.cameras),
                                           broker)           # the service started again, the broker back
    sweep.close()
    assert await restarted.pending() == 3
    repeats_before = repeats()
    async with running(consumer), watching(broker, group) as received, delivering(restarted), \
            await psycopg.AsyncConnection.connect(database_url, autocommit=True) as db:
        async def all_delivered() -> bool:
            return len(received) == 3 and await restarted.pending() == 0

        await wait_for(all_delivered)
        assert [e.id for e in received] == [first.id, second.id, first.id]     # in the order they were taken

        async def both_recorded() -> bool:
            row = await (await db.execute("SELECT count(DISTINCT plate) FROM business.vehicle_passages")).fetchone()
            return row is not None and row[0] == 2

        await wait_for(both_recorded)

        async def repeat_dropped() -> bool:
            return repeats() > repeats_before

        await wait_for(repeat_dropped)                   # the consumer saw the third delivery and dropped it
        rows = await (await db.execute(
            "SELECT plate, at FROM business.vehicle_passages ORDER BY at")).fetchall()
        assert rows == [("皖AY339S", datetime(2026, 12, 5, 8, 0, tzinfo=UTC)),
                        ("皖AD14488", datetime(2026, 12, 5, 8, 5, tzinfo=UTC))]
    assert restarted.delivered == 3


async def test_over_its_limit_the_queue_drops_the_oldest_and_counts_them(
        tmp_path: Path, broker: BrokerAddress, group: str) -> None:
    path = queue_file(tmp_path)
    events = [recognition(minute) for minute in range(5)]
    before = skipped(FULL)
    away = EventQueue(MqttSink(nowhere(), f"vision-{group}"), group, STATION, limit=3, path=path)
    for event in events:
        await away.put(event)
    assert await away.pending() == 3 and away.dropped == 2
    assert skipped(FULL) == before + 2

    restarted = EventQueue(MqttSink(broker, f"vision-{group}"), group, STATION, limit=3, path=path)
    async with watching(broker, group) as received, delivering(restarted):
        async def drained() -> bool:
            return len(received) == 3 and await restarted.pending() == 0

        await wait_for(drained)
    assert [e.id for e in received] == [e.id for e in events[2:]]


async def test_an_unreadable_queue_file_is_set_aside_counted_and_a_fresh_one_used(
        tmp_path: Path, broker: BrokerAddress, group: str) -> None:
    path = queue_file(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"this is not an SQLite database, a torn write perhaps" * 100)
    before = skipped(CORRUPT)
    queue = EventQueue(MqttSink(broker, f"vision-{group}"), group, STATION, path=path)
    event = recognition(10)
    async with watching(broker, group) as received, delivering(queue):
        await queue.put(event)

        async def delivered() -> bool:
            return len(received) == 1

        await wait_for(delivered)
    assert received[0].id == event.id
    assert skipped(CORRUPT) == before + 1 and queue.corrupt == 1
    aside = [p.name for p in path.parent.iterdir() if p.name.startswith("events.sqlite.corrupt-")]
    assert len(aside) == 1
    assert (path.parent / aside[0]).read_bytes().startswith(b"this is not an SQLite database")


async def test_a_row_that_is_no_event_is_dropped_and_counted_and_the_rest_delivered(
        tmp_path: Path, broker: BrokerAddress, group: str) -> None:
    path = queue_file(tmp_path)
    good = recognition(20)
    away = EventQueue(MqttSink(nowhere(), f"vision-{group}"), group, STATION, path=path)
    await away.put(good)
    assert await away.pending() == 1
    with contextlib.closing(sqlite3.connect(path)) as db, db:          # a row damaged on disk, before the good one
        db.execute("UPDATE events SET seq = seq + 1")
        db.execute("INSERT INTO events (seq, topic, body) VALUES (1, 'forecourt/v1/x/st-01/events/y', x'ff00')")
    before = skipped(CORRUPT)
    restarted = EventQueue(MqttSink(broker, f"vision-{group}"), group, STATION, path=path)
    async with watching(broker, group) as received, delivering(restarted):
        async def drained() -> bool:
            return len(received) == 1 and await restarted.pending() == 0

        await wait_for(drained)
    assert received[0].id == good.id
    assert skipped(CORRUPT) == before + 1


async def test_a_file_with_another_table_is_set_aside_but_a_disk_that_cannot_write_moves_nothing(
        tmp_path: Path, group: str) -> None:
    path = queue_file(tmp_path)
    path.parent.mkdir(parents=True)
    with contextlib.closing(sqlite3.connect(path)) as db, db:           # an SQLite file, but not our queue
        db.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, payload TEXT)")
    before = skipped(CORRUPT)
    queue = EventQueue(MqttSink(nowhere(), f"vision-{group}"), group, STATION, path=path)
    await queue.put(recognition(30))
    assert await queue.pending() == 1 and skipped(CORRUPT) == before + 1
    assert [p.name for p in path.parent.iterdir() if ".corrupt-" in p.name]

    blocked = tmp_path / "blocked" / "events.sqlite"
    blocked.mkdir(parents=True)                      # a directory where the file should be: SQLite cannot open it
    unwritable = skipped(UNWRITABLE)
    stuck = EventQueue(MqttSink(nowhere(), f"vision-{group}"), group, STATION, path=blocked)
    await stuck.put(recognition(31))                 # counted and logged, never raised into the camera's loop
    assert skipped(UNWRITABLE) == unwritable + 1
    assert blocked.is_dir() and not [p for p in blocked.parent.iterdir() if ".corrupt-" in p.name]


def test_a_queue_holds_at_least_one_event() -> None:
    with pytest.raises(ValueError, match="at least one"):
        EventQueue(MqttSink(nowhere(), "vision"), "g", STATION, limit=0)


