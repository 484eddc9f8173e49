"""A dispenser error (status bit 2, the fuelling point Inoperative) through the dispenser simulator (Modbus TCP) →
edge node → broker → IngestWorker → alarm engine with the shipped rule ``dispenser.error`` (2 s on-delay); it
returns when the pump is repaired."""

from __future__ import annotations

import asyncio
import contextlib

import psycopg
import pytest

from edge_nodes.runtime import EdgeNode
from telemetry.alarms.engine import AlarmEngine
from telemetry.alarms.rules import DEFAULT_FILE
from telemetry.contracts.broker import BrokerAddress
from telemetry.ingest.worker import IngestWorker
from tests.support.station import dispenser, station_for

pytestmark = pytest.mark.integration


async def _types(conn: psycopg.AsyncConnection) -> list[str]:
    cur = await conn.execute("SELECT event_type FROM alarms.journal WHERE rule = 'dispenser.error' ORDER BY seq")
    return [str(r[0]) for r in await cur.fetchall()]


async def _until(conn: psycopg.AsyncConnection, expected: list[str], what: str, within_s: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + within_s
    while await _types(conn) != expected:
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}: {await _types(conn)}")
        await asyncio.sleep(0.1)


async def test_a_dispenser_error_is_raised_and_returns(database_url: str, broker: BrokerAddress, group: str) -> None:
    async with dispenser() as server, \
            await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        ingest = IngestWorker(database_url, broker, group=group, client_id=f"ingest-{group}", rollup_every_s=0)
        node = EdgeNode(station_for(server, "st-disp"), broker, group=group)
        engine = AlarmEngine(database_url, group=group, rules_file=DEFAULT_FILE, tick_s=0.2)
        tasks = [asyncio.create_task(ingest.run())]
        try:
            await asyncio.wait_for(ingest.subscribed.wait(), 10)
            tasks += [asyncio.create_task(node.run()), asyncio.create_task(engine.run())]
            await asyncio.wait_for(engine.ready.wait(), 10)
            server.catch_up()
            server.model.set_fp_error(1, 17)
            await _until(conn, ["alarm.raised"], "the dispenser error")
            row = await (await conn.execute("SELECT source, priority, value FROM alarms.alarms "
                                            "WHERE rule = 'dispenser.error'")).fetchone()
            assert row is not None and row[:2] == ("disp-01/status", "medium") and int(row[2]) & 4
            server.catch_up()
            server.model.set_fp_error(1, 0)
            await _until(conn, ["alarm.raised", "alarm.returned"], "the repair")
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
