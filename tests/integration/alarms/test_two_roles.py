"""Both roles, as ``forecourt alarms`` runs them: the station server's engine owns its station's alarm; its
alarm.* events reach head office through the broker and are copied there; head office's console (the API's
list and WebSocket stream) shows it; acknowledging it at head office sends ``command.acknowledge_alarm`` down,
the station applies it and its acknowledgement comes back up. The condition is raised through the seam other
planes use (``telemetry/alarms/external.py``), as wet stock does. Also: /healthz and /metrics of the service.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path

import httpx
import psycopg
import pytest
import websockets

from forecourt.alarms import alarms_service
from forecourt.local import free_port
from forecourt.services import api_service
from forecourt.settings import Settings
from telemetry.alarms.external import raise_condition
from telemetry.contracts.broker import BrokerAddress
from tests.integration.api.support import wait_for_port, ws_token
from tests.support.auth import TEST_TOKENS, admin_headers

pytestmark = pytest.mark.integration

STATION = "st-ws1"
RULES = """
rules:
  - code: wetstock.variance
    kind: condition
    priority: high
    area: 油罐区
    message: 罐存差异超限 (stock variance over tolerance)
"""


async def _until(check, what: str, within_s: float = 20.0):  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + within_s
    while True:
        value = await check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def _one(url: str, sql: str, *params: object) -> tuple[object, ...] | None:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        return await (await conn.execute(sql, params)).fetchone()


async def _condition(url: str, active: bool, litres: float) -> None:
    async with await psycopg.AsyncConnection.connect(url) as conn, conn.transaction():
        await raise_condition(conn, STATION, "wetstock.variance", "tank-1", active, litres, 300.0)


async def test_station_alarm_copied_up_and_acknowledged_from_head_office(
        database_url: str, station_database_url: str, broker: BrokerAddress, group: str, tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    common = {"group": group, "alarm_rules_file": rules, "mqtt_v5": broker.mqtt5}
    station_settings = Settings(**common)  # type: ignore[arg-type]
    ho_settings = Settings(alarm_station_servers=STATION, **common)  # type: ignore[arg-type]
    api_port, station_metrics, ho_metrics = free_port(), free_port(), free_port()
    tasks = [asyncio.create_task(alarms_service(station_settings, station_database_url, broker, STATION,
                                                station_metrics)),
             asyncio.create_task(alarms_service(ho_settings, database_url, broker, None, ho_metrics)),
             asyncio.create_task(api_service(database_url, "127.0.0.1", api_port, broker, group, TEST_TOKENS))]
    try:
        await wait_for_port("127.0.0.1", api_port)
        async with httpx.AsyncClient(timeout=10) as http:
            async def healthy() -> bool:
                answers = [await http.get(f"http://127.0.0.1:{p}/healthz") for p in (station_metrics, ho_metrics)]
                return all(a.status_code == 200 for a in answers)
            await _until(healthy, "both alarm services healthy")
            body = (await http.get(f"http://127.0.0.1:{station_metrics}/healthz")).json()
            assert body["service"] == "alarms" and set(body["checks"]) == {"engine", "follower", "publisher"}

            ws_url = f"ws://127.0.0.1:{api_port}/api/v1/alarms/stream?station={STATION}&access_token=" \
                     f"{ws_token('alarm:read')}"
            async with websockets.connect(ws_url) as ws:
                assert json.loads(await ws.recv()) == {"type": "snapshot", "items": []}

                # wet stock says the variance is over tolerance, in its own transaction at the station
                await _condition(station_database_url, True, 412.0)
                pushed = json.loads(await asyncio.wait_for(ws.recv(), 20))
                assert pushed["type"] == "transition" and pushed["event"] == "alarm.raised"
                alarm = pushed["alarm"]
                assert (alarm["station"], alarm["rule"], alarm["source"], alarm["owner"], alarm["state"]) == \
                    (STATION, "wetstock.variance", "tank-1", "station", "unacknowledged")
                assert alarm["value"] == 412.0          # the other plane's own figure, not a flag

                api = f"http://127.0.0.1:{api_port}/api/v1/alarms"
                listed = (await http.get(api, params={"station": STATION},
                                         headers=admin_headers("alarm:read"))).json()
                assert [a["alarm_id"] for a in listed["items"]] == [alarm["alarm_id"]] and listed["total"] == 1

                # acknowledged at head office: a command down, the station's transition back up
                answer = await http.post(f"{api}/{alarm['alarm_id']}/acknowledge", json={"comment": "总部已知悉"},
                                         headers={**admin_headers("alarm:ack"), "Idempotency-Key": "ack-ho-0001"})
                assert answer.status_code == 200, answer.text
                pushed = json.loads(await asyncio.wait_for(ws.recv(), 20))
                assert (pushed["event"], pushed["alarm"]["state"]) == ("alarm.acknowledged", "acknowledged")
                at_station = await _one(station_database_url, "SELECT state, acknowledged_by FROM alarms.alarms "
                                                              "WHERE alarm_id = %s", alarm["alarm_id"])
                assert at_station == ("acknowledged", "tester（总部）")
                detail = (await http.get(f"{api}/{alarm['alarm_id']}", headers=admin_headers("alarm:read"))).json()
                assert [j["event_type"] for j in detail["journal"]] == ["alarm.raised", "alarm.acknowledged"]

                # the condition clears at the station: closed there and here
                await _condition(station_database_url, False, 120.0)
                pushed = json.loads(await asyncio.wait_for(ws.recv(), 20))
                assert (pushed["event"], pushed["alarm"]["state"]) == ("alarm.returned", "normal")

            # head office never raised its own occurrence of the station's condition, and holds each transition once
            assert await _one(database_url, "SELECT count(*), count(*) FILTER (WHERE owner = 'station') "
                                            "FROM alarms.alarms") == (1, 1)
            assert await _one(database_url, "SELECT count(*) FROM alarms.journal") == (3,)
            audit = await _one(database_url, "SELECT action, station FROM business.audit_log "
                                             "WHERE action LIKE 'alarm.%%'")
            assert audit == ("alarm.acknowledge.request", STATION)
            metrics = (await http.get(f"http://127.0.0.1:{station_metrics}/metrics")).text
            assert "forecourt_alarms_transitions_total" in metrics and "forecourt_ingest" not in metrics
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
