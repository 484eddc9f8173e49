"""A charger connector Faulted through the charger simulator (OCPP 1.6J and 2.0.1 over WebSocket) → the edge
node's OCPP central system → broker → IngestWorker → alarm engine with the shipped rule ``charger.faulted``; it
returns when the fault is cleared (the connector Available again)."""

from __future__ import annotations

import asyncio
import contextlib

import psycopg
import pytest

from edge_nodes.devices.ocpp import OcppDevice, OcppSource
from edge_nodes.runtime import EdgeNode
from edge_nodes.station import Station
from simulators.charger import ChargerConfig, ChargerSimulator, ErrorCode
from simulators.clock import SimClock
from telemetry.alarms.engine import AlarmEngine
from telemetry.alarms.rules import DEFAULT_FILE
from telemetry.contracts.broker import BrokerAddress
from telemetry.ingest.worker import IngestWorker

pytestmark = pytest.mark.integration


async def _types(conn: psycopg.AsyncConnection) -> list[str]:
    cur = await conn.execute("SELECT event_type FROM alarms.journal WHERE rule = 'charger.faulted' ORDER BY seq")
    return [str(r[0]) for r in await cur.fetchall()]


async def _until(conn: psycopg.AsyncConnection, expected: list[str], what: str, within_s: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + within_s
    while await _types(conn) != expected:
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}: {await _types(conn)}")
        await asyncio.sleep(0.1)


async def _stored_status(conn: psycopg.AsyncConnection, station: str) -> str | None:
    row = await (await conn.execute(
        "SELECT l.value_text FROM telemetry.latest l JOIN telemetry.metrics m USING (metric_id) "
        "WHERE m.station = %s AND m.device = 'chargers' AND m.name = 'chg-01/1/status'", (station,))).fetchone()
    return None if row is None else row[0]


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_a_faulted_charger_is_raised_and_returns(database_url: str, broker: BrokerAddress, group: str,
                                                       version: str) -> None:
    station = "st-ev"
    device = OcppDevice(protocol="ocpp", code="chargers", listen_host="127.0.0.1", listen_port=0,
                        charge_points=[{"id": "chg-01"}])  # type: ignore[list-item]
    node = EdgeNode(Station(station=station, devices=[device]), broker, group=group)
    source = node.sources[0]
    assert isinstance(source, OcppSource)
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        ingest = IngestWorker(database_url, broker, group=group, client_id=f"ingest-{group}", rollup_every_s=0)
        engine = AlarmEngine(database_url, group=group, rules_file=DEFAULT_FILE, tick_s=0.2)
        tasks = [asyncio.create_task(ingest.run())]
        try:
            await asyncio.wait_for(ingest.subscribed.wait(), 10)
            tasks += [asyncio.create_task(node.run()), asyncio.create_task(engine.run())]
            await asyncio.wait_for(engine.ready.wait(), 10)
            await asyncio.wait_for(source.ready.wait(), 5)
            config = ChargerConfig(charge_point_id="chg-01", ocpp_version=version,  # type: ignore[arg-type]
                                   meter_interval_s=5, seed=3)
            url = f"ws://127.0.0.1:{source.csms.port}/ocpp/chg-01"
            async with ChargerSimulator(config, SimClock(20), url=url) as chg:
                await chg.wait_online()
                await _until_stored(conn, station, "Available")
                assert await _types(conn) == []                       # a healthy charger raises nothing

                chg.inject_fault(1, ErrorCode.GROUND_FAILURE)
                await _until(conn, ["alarm.raised"], "the charger-faulted alarm")
                row = await (await conn.execute("SELECT source, priority, area, state FROM alarms.alarms "
                                                "WHERE rule = 'charger.faulted'")).fetchone()
                assert row == ("chargers/chg-01/1/status", "medium", "充电区", "unacknowledged")

                chg.clear_fault(1)
                await _until(conn, ["alarm.raised", "alarm.returned"], "the return when the charger recovers")
                assert await _stored_status(conn, station) == "Available"
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task


async def _until_stored(conn: psycopg.AsyncConnection, station: str, status: str, within_s: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + within_s
    while await _stored_status(conn, station) != status:
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for ingest to store chg-01/1/status = {status}")
        await asyncio.sleep(0.1)
