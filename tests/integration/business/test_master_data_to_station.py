"""The list reaches the station: a station manager changes a nozzle's grade at head office, the station's edge
node receives the new list over the broker, keeps it on disk, reports its version back, and head office records
it; an older list is ignored; a restarted edge starts with the list it kept; the station server holds a copy.

The list leaves head office through the real outbox publisher (``business_services/outbox.py``);
``republish`` sends an old list again, as a late redelivery would.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiomqtt
import psycopg
import pytest

from business_services.audit.model import Actor
from business_services.consumer import EventConsumer
from business_services.outbox import MqttSink, OutboxPublisher
from business_services.stations import copy, handlers, views
from business_services.stations.model import Nozzle
from business_services.unit_of_work import UnitOfWork
from edge_nodes.master_data import MasterDataStore
from edge_nodes.runtime import EdgeNode
from edge_nodes.station import parse_station
from forecourt.stations import import_file
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.events import CloudEvent
from telemetry.contracts.master_data import MasterData
from tests.support.events import running, wait_for

pytestmark = pytest.mark.integration

DEMO = Path(__file__).resolve().parents[3] / "config" / "stations" / "demo.yaml"
MANAGER = Actor("wang.zhanzhang", "10.0.0.8", user_id=3)


async def republish(database_url: str, broker: BrokerAddress, event_id: str) -> None:
    """Send an outbox row's event once more (a late, out-of-order redelivery)."""
    async with await psycopg.AsyncConnection.connect(database_url) as conn, \
            aiomqtt.Client(**broker.client_kwargs()) as client:
        cur = await conn.execute("SELECT topic, payload FROM business.outbox WHERE event_id = %s", (event_id,))
        row = await cur.fetchone()
        assert row is not None
        await client.publish(row[0], json.dumps(row[1]).encode(), qos=1)


@contextlib.asynccontextmanager
async def edge_node(code: str, broker: BrokerAddress, group: str, path: Path) -> AsyncIterator[EdgeNode]:
    node = EdgeNode(parse_station({"station": code, "devices": []}), broker, group=group, master_data_path=path)
    task = asyncio.create_task(node.run())
    try:
        await asyncio.wait_for(node.connected.wait(), 10)
        yield node
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def held_at_head_office(database_url: str, code: str) -> Any:
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        cur = await conn.execute("SELECT version, edge_version FROM business.stations WHERE code = %s", (code,))
        return await cur.fetchone()


async def change_grade(database_url: str, fuelling_point: int, nozzle: int, grade: str) -> int:
    async with await psycopg.AsyncConnection.connect(database_url) as conn, UnitOfWork(conn, MANAGER) as uow:
        return await handlers.put_nozzle(handlers.PutNozzle("demo-01", Nozzle("disp-01", fuelling_point, nozzle,
                                                                               grade)), uow)


async def test_the_edge_gets_the_new_list_keeps_it_and_head_office_records_its_version(
        database_url: str, station_database_url: str, broker: BrokerAddress, group: str, tmp_path: Path) -> None:
    list_file = tmp_path / "edge" / "demo-01.master-data.json"
    await import_file(database_url, DEMO, ["92", "95"], group=group)          # version 1, in the outbox
    consumer = EventConsumer(database_url, broker, client_id=f"b-{group}", group=group)
    publisher = OutboxPublisher(database_url, MqttSink(broker, f"b-{group}-outbox"), poll_s=0.1)
    outbox = asyncio.create_task(publisher.run())
    try:
        async with running(consumer), edge_node("demo-01", broker, group, list_file) as node:
            assert await change_grade(database_url, 1, 1, "95") == 2              # the station manager's edit

            async def reported() -> bool:
                return await held_at_head_office(database_url, "demo-01") == (2, 2)

            await wait_for(reported)
            assert node.master_data.version == 2
            before = consumer.handled
            await republish(database_url, broker, "master-data/demo-01/1")      # an old list, late

            async def answered() -> bool:     # the edge's acknowledgement and its report of the version held
                return consumer.handled >= before + 2

            await wait_for(answered)
            assert node.master_data.version == 2
            assert await held_at_head_office(database_url, "demo-01") == (2, 2)
    finally:
        outbox.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await outbox

    on_disk = MasterData.model_validate_json(list_file.read_bytes())
    assert on_disk.version == 2
    assert next(n for n in on_disk.nozzles if (n["fuelling_point"], n["number"]) == (1, 1))["grade"] == "95"

    restarted = MasterDataStore(list_file)                # an edge restart starts with what it kept
    assert restarted.version == 2
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        older = (await views.master_data(conn, "demo-01")).model_copy(update={"version": 1})
    assert restarted.offer(older).outcome == "older-ignored"
    assert MasterData.model_validate_json(list_file.read_bytes()).version == 2

    # the station server (its own database) holds the list the edge kept, and only a newer one replaces it
    async with await psycopg.AsyncConnection.connect(station_database_url) as station:
        assert await copy.apply_list(station, on_disk) is True
        assert await copy.apply_list(station, older) is False
        copied = await views.master_data(station, "demo-01")
    assert copied.version == 2
    assert copied.nozzles == on_disk.nozzles and copied.devices == on_disk.devices


async def test_head_office_away_the_edge_keeps_using_its_list(broker: BrokerAddress, group: str,
                                                              tmp_path: Path) -> None:
    """With no head office at all, a restarted edge node still has (and says) the version it kept."""
    list_file = tmp_path / "demo-01.master-data.json"
    data = MasterData(version=7, station_code="demo-01", station={"code": "demo-01"}, devices=[], grades=[],
                      tanks=[], nozzles=[{"device": "disp-01", "fuelling_point": 1, "number": 1, "grade": "92"}])
    assert MasterDataStore(list_file).offer(data).outcome == "applied"
    async with edge_node("demo-01", broker, group, list_file) as node:
        assert node.master_data.version == 7
        assert node.master_data.current is not None and node.master_data.current.nozzles == data.nozzles


async def test_a_list_for_another_station_is_refused(broker: BrokerAddress, group: str, tmp_path: Path) -> None:
    node = EdgeNode(parse_station({"station": "demo-01", "devices": []}), broker, group=group,
                    master_data_path=tmp_path / "l.json")
    data = MasterData(version=3, station_code="demo-02", station={}, devices=[], grades=[], tanks=[], nozzles=[])
    acks: list[CloudEvent] = []

    async def keep(event: CloudEvent) -> None:
        acks.append(event)

    node.commands._emit = keep
    await node.commands.handle(data.envelope(source="test").to_bytes())
    assert acks[0].data["result"] == "bad-argument"
    assert node.master_data.version is None and not (tmp_path / "l.json").exists()
