"""The station server receives its own station's fuellings over MQTT: each becomes an order in the station's
database, and the order's event goes up through its outbox."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from pathlib import Path

import aiomqtt
import psycopg
import pytest

from business_services.bootstrap import outbox_publisher
from business_services.outbox import MqttSink
from business_services.stations.model import DEFAULT_GROUP
from forecourt.services import station_consumer
from forecourt.settings import Settings
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.topics import event_topic
from tests.support.events import FUELLING, envelope, fuelling, running, wait_for

pytestmark = pytest.mark.integration


async def test_a_published_fuelling_becomes_an_order_at_its_station_only(
        station_database_url: str, broker: BrokerAddress, group: str, tmp_path: Path) -> None:
    station, other = f"o{uuid.uuid4().hex[:8]}", f"x{uuid.uuid4().hex[:8]}"
    consumer = station_consumer(Settings(data_dir=tmp_path, group=group), station_database_url, broker, station)
    assert consumer.topic_filter == f"forecourt/v1/{group}/{station}/events/#"
    publisher = outbox_publisher(station_database_url, MqttSink(broker, f"{consumer.client_id}-outbox"))
    publishing = asyncio.create_task(publisher.run())
    try:
        async with aiomqtt.Client(**broker.client_kwargs()) as mqtt, running(consumer), \
                await psycopg.AsyncConnection.connect(station_database_url, autocommit=True) as db:
            await mqtt.subscribe(event_topic(DEFAULT_GROUP, station, "order.created"), qos=1)
            await mqtt.publish(event_topic(group, other, FUELLING), envelope(FUELLING, fuelling(1, station=other)),
                               qos=1)
            raw = envelope(FUELLING, fuelling(2, station=station))
            await mqtt.publish(event_topic(group, station, FUELLING), raw, qos=1)

            async def ordered() -> bool:
                cur = await db.execute("SELECT count(*) FROM business.orders WHERE station = %s", (station,))
                return (await cur.fetchone() or (0,))[0] == 1
            await wait_for(ordered)
            assert consumer.handled == 1          # the other station's event, published first, never came
            await mqtt.publish(event_topic(group, station, FUELLING), raw, qos=1)      # a redelivery

            async def handled_twice() -> bool:
                return consumer.handled == 2
            await wait_for(handled_twice)
            cur = await db.execute("SELECT station, count(*) FROM business.orders GROUP BY station")
            assert await cur.fetchall() == [(station, 1)]                  # not the other station's, not twice
            async with asyncio.timeout(15):
                message = await anext(aiter(mqtt.messages))                # the order went up through the outbox
            created = json.loads(message.payload if isinstance(message.payload, bytes) else b"{}")
            assert created["type"] == "order.created" and created["data"]["amount_fen"] == 29000
    finally:
        publishing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await publishing
