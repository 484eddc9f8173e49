"""The station server ingests its own station's edge node into its own database (the POS's live nozzles), and
only that node: another station's Sparkplug data on the same broker never lands there."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from pathlib import Path

import aiomqtt
import psycopg
import pytest

from edge_nodes.runtime import EdgeNode
from forecourt.services import station_ingest
from forecourt.settings import Settings
from telemetry.contracts import topics
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.sparkplug import DataType, Metric, Payload, encode
from telemetry.contracts.topics import MessageType
from tests.support.events import wait_for
from tests.support.station import dispenser, sell, station_for

pytestmark = pytest.mark.integration


async def test_the_dispenser_values_reach_the_station_database_and_no_other_station(
        station_database_url: str, broker: BrokerAddress, group: str, tmp_path: Path) -> None:
    station, other = f"s{uuid.uuid4().hex[:8]}", f"x{uuid.uuid4().hex[:8]}"
    worker = station_ingest(Settings(data_dir=tmp_path, group=group), station_database_url, broker, station)
    assert worker.topic_filters == [f"spBv1.0/{group}/+/{station}/#"] and worker.host is None
    async with dispenser() as pump:
        node = EdgeNode(station_for(pump, station), broker, group=group, outbox_path=tmp_path / "outbox.sqlite")
        tasks = [asyncio.create_task(worker.run()), asyncio.create_task(node.run())]
        try:
            await asyncio.wait_for(worker.subscribed.wait(), 10)
            async with aiomqtt.Client(**broker.client_kwargs()) as mqtt, \
                    await psycopg.AsyncConnection.connect(station_database_url, autocommit=True) as db:
                await mqtt.publish(topics.node_topic(group, MessageType.NBIRTH, other), encode(Payload(
                    1000, 0, (Metric("bdSeq", 1, 1000, DataType.INT64, 0),))), qos=1)
                assert await sell(pump, 1000) == 0                       # 10.00 L at the pump

                async def volume_sold() -> bool:
                    cur = await db.execute(
                        "SELECT l.value FROM telemetry.latest l JOIN telemetry.metrics m USING (metric_id) "
                        "WHERE m.station = %s AND m.device = 'disp-01' AND m.name = 'fp1/last/volume'", (station,))
                    return (await cur.fetchone() or (None,))[0] == 10.0
                await wait_for(volume_sold)
                cur = await db.execute("SELECT DISTINCT station FROM telemetry.metrics")
                assert await cur.fetchall() == [(station,)]              # the other node's birth never came in
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
