"""Two business consumers (partitions 1/2 and 2/2, each its own persistent session) on one real broker: every
event is recorded once, and each station's fuellings are handled by one consumer in the order they were sent."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import aiomqtt
import psycopg
import pytest

from business_services.bootstrap import build_bus
from business_services.consumer import EventConsumer
from business_services.partition import Partition
from edge_nodes.transactions import fuelling_event
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.events import CloudEvent
from telemetry.contracts.events.fuelling import FuellingCompleted
from tests.support.events import running, wait_for

pytestmark = pytest.mark.integration

TRANSACTIONS = 6     # per fuelling point
POINTS = (1, 2)


def record(number: int) -> dict[str, object]:
    return {"transaction": number, "nozzle": 1, "grade": 92, "volume": 20.0, "amount": 15780, "price": 789,
            "start": 1_772_352_000 + 100 * number, "end": 1_772_352_040 + 100 * number,
            "volume_total": 1000.0 + 20 * number, "end_reason": 1}


def stations_of_both(group: str) -> list[str]:
    """Six stations, at least two in each partition (the hash decides which)."""
    first, second = Partition(1, 2), Partition(2, 2)
    mine: dict[int, list[str]] = {1: [], 2: []}
    for n in range(100):
        station = f"st-{n:02d}"
        owner = 1 if first.owns(f"forecourt/v1/{group}/{station}/events/fuelling.completed") else 2
        assert second.owns(f"forecourt/v1/{group}/{station}/events/fuelling.completed") == (owner == 2)
        if len(mine[owner]) < 3:
            mine[owner].append(station)
    return mine[1] + mine[2]


async def test_two_partitions_record_every_event_once_and_each_station_in_order(
        database_url: str, broker: BrokerAddress, group: str) -> None:
    stations = stations_of_both(group)
    handled: list[tuple[str, str, int, int]] = []    # (consumer, station, fuelling point, transaction)

    def consumer(index: int) -> EventConsumer:
        bus = build_bus()

        async def note(event: CloudEvent, uow: Any) -> None:
            t = FuellingCompleted.from_event(event)
            handled.append((f"{index}/2", t.station, t.fuelling_point, t.transaction))

        bus.events[FuellingCompleted.TYPE].append(note)
        return EventConsumer(database_url, broker, client_id=f"business-{group}", bus=bus,
                             partition=Partition(index, 2), group=group)

    one, two = consumer(1), consumer(2)
    assert (one.client_id, two.client_id) == (f"business-{group}-1-of-2", f"business-{group}-2-of-2")
    sent: list[CloudEvent] = []
    async with running(one), running(two), aiomqtt.Client(identifier=f"edge-{group}",
                                                          **broker.client_kwargs()) as edge:
        for number in range(1, TRANSACTIONS + 1):          # interleaved, as several stations' edges would send
            for station in stations:
                for point in POINTS:
                    event = fuelling_event(station, "disp-01", point, record(number))
                    sent.append(event)
                    topic = f"forecourt/v1/{group}/{station}/events/fuelling.completed"
                    await edge.publish(topic, event.to_bytes(), qos=1)
                    if number == 3:                        # a redelivery: the same event again
                        await edge.publish(topic, event.to_bytes(), qos=1)
        await wait_for(lambda: _count_is(database_url, len(sent)), within_s=60)
        await wait_for(lambda: _true(one.handled + two.handled == len(sent) + len(stations) * len(POINTS)))

    assert len(handled) == len(sent)                       # the repeats were recorded by neither
    assert Counter((s, p, n) for _, s, p, n in handled) == Counter(
        (FuellingCompleted.from_event(e).station, FuellingCompleted.from_event(e).fuelling_point,
         FuellingCompleted.from_event(e).transaction) for e in sent)
    for station in stations:
        mine = [(c, p, n) for c, s, p, n in handled if s == station]
        assert len({c for c, _, _ in mine}) == 1, station                  # one consumer per station
        for point in POINTS:
            assert [n for _, p, n in mine if p == point] == list(range(1, TRANSACTIONS + 1)), (station, point)
    assert {c for c, _, _, _ in handled} == {"1/2", "2/2"}                 # and both did work


async def _count_is(database_url: str, expected: int) -> bool:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        row = await (await conn.execute("SELECT count(*) FROM business.fuelling_transactions")).fetchone()
    return row is not None and row[0] == expected


async def _true(value: bool) -> bool:
    await asyncio.sleep(0)
    return value
