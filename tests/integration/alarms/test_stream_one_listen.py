"""The alarm WebSocket streams of one API process share its one LISTEN connection (``control_api/live.py``): three
clients open, still one backend listens; each client gets the snapshot, then the transitions of its station only,
in order."""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any

import psycopg
import pytest
import websockets

from forecourt.local import free_port
from forecourt.services import api_service
from telemetry.alarms.engine import AlarmEngine
from telemetry.alarms.external import raise_condition
from telemetry.contracts.broker import BrokerAddress
from tests.integration.api.support import wait_for_port, ws_token
from tests.support.auth import TEST_TOKENS

pytestmark = pytest.mark.integration

RULES = """
rules:
  - code: wetstock.variance
    kind: condition
    priority: high
    area: 油罐区
    message: 罐存差异超限 (stock variance over tolerance)
"""


async def _listeners(conn: psycopg.AsyncConnection) -> int:
    row = await (await conn.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND query ILIKE 'LISTEN alarm_transitions%%'")).fetchone()
    return int(row[0]) if row else 0


async def _condition(url: str, station: str, active: bool, litres: float) -> None:
    async with await psycopg.AsyncConnection.connect(url) as conn, conn.transaction():
        await raise_condition(conn, station, "wetstock.variance", "tank-1", active, litres, 300.0)


async def _next(ws: Any) -> dict[str, Any]:
    return dict(json.loads(await asyncio.wait_for(ws.recv(), 20)))


async def test_every_stream_of_a_process_shares_one_listen_connection(
        database_url: str, broker: BrokerAddress, group: str, tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    port = free_port()
    engine = AlarmEngine(database_url, group=group, rules_file=rules, tick_s=0.2)
    tasks = [asyncio.create_task(api_service(database_url, "127.0.0.1", port, broker, group, TEST_TOKENS)),
             asyncio.create_task(engine.run())]
    token = ws_token("alarm:read")
    url = f"ws://127.0.0.1:{port}/api/v1/alarms/stream?access_token={token}&station="
    try:
        await wait_for_port("127.0.0.1", port)
        await asyncio.wait_for(engine.ready.wait(), 10)
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn, \
                websockets.connect(url + "st-a") as first, websockets.connect(url + "st-a") as second, \
                websockets.connect(url + "st-b") as other:
            for ws in (first, second, other):
                assert await _next(ws) == {"type": "snapshot", "items": []}
            assert await _listeners(conn) == 1              # not one a client

            await _condition(database_url, "st-a", True, 412.0)
            raised = [await _next(ws) for ws in (first, second)]
            assert raised[0] == raised[1]
            assert (raised[0]["event"], raised[0]["alarm"]["station"], raised[0]["alarm"]["value"]) == \
                ("alarm.raised", "st-a", 412.0)
            await _condition(database_url, "st-a", False, 10.0)
            for ws in (first, second):
                returned = await _next(ws)
                assert (returned["event"], returned["alarm"]["alarm_id"]) == \
                    ("alarm.returned", raised[0]["alarm"]["alarm_id"])
            await _condition(database_url, "st-b", True, 500.0)
            pushed = await _next(other)                     # st-a's transitions were not sent here
            assert (pushed["event"], pushed["alarm"]["station"]) == ("alarm.raised", "st-b")
            assert await _listeners(conn) == 1
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
