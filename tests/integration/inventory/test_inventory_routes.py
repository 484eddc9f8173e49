"""The wet-stock API on a station server: login, permission and station scope; notes, dips and a day's
reconciliation; its report as Excel and PDF; tolerances. Gauge and meter readings are written as ingest writes
them (rows of ``telemetry.points``) at fixed times of one day; test_reconciliation_from_gauge.py takes them
through the simulator, the edge and ingest instead."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import UTC, datetime, timedelta

import openpyxl
import psycopg
import pytest
from fastapi.testclient import TestClient

from business_services.bootstrap import build_bus
from business_services.consumer import EventConsumer
from control_api.app import create_app
from forecourt.roles import Role, policy
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.vcf import vcf20
from tests.integration.inventory.support import add_fuelling, seed_station
from tests.support.auth import TEST_TOKENS, headers

pytestmark = pytest.mark.integration

STATION = "st-inv"
DAY_START = datetime(2026, 12, 2, 16, 0, tzinfo=UTC)        # 2026-12-03 00:00 in Asia/Shanghai
DAY_END = DAY_START + timedelta(days=1)
BASE = f"/api/v1/stations/{STATION}"
SHIFT = "st-inv-20261203-S00001"


def _metric(conn: psycopg.Connection, device: str, name: str, unit: str) -> int:
    row = conn.execute("INSERT INTO telemetry.metrics (grp, station, device, name, datatype, unit)"
                       " VALUES ('g', %s, %s, %s, 'Double', %s) RETURNING metric_id",
                       (STATION, device, name, unit)).fetchone()
    assert row is not None
    return int(row[0])


def _seed(url: str) -> None:
    async def master() -> None:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            await seed_station(conn, STATION, [(1, "92", 30_000.0)], [("disp-01", 1, 1, "92")])
            await add_fuelling(conn, STATION, 1, 995.0, 50_000.0, DAY_START + timedelta(hours=10))
    asyncio.run(master())
    with psycopg.connect(url, autocommit=True) as conn:
        volume = _metric(conn, "atg-01", "tank1/volume", "L")
        temperature = _metric(conn, "atg-01", "tank1/temperature", "°C")
        meter = _metric(conn, "disp-01", "fp1/nozzle1/volume_total", "L")
        minute = timedelta(minutes=1)
        for metric, at, value in [
                (volume, DAY_START - minute, 12_000.0), (temperature, DAY_START - 2 * minute, 15.0),
                (volume, DAY_END - minute, 10_990.0), (temperature, DAY_END - 2 * minute, 15.0),
                (meter, DAY_START - 5 * minute, 50_000.0), (meter, DAY_END - 5 * minute, 51_000.0)]:
            conn.execute("INSERT INTO telemetry.points (metric_id, ts, value) VALUES (%s, %s, %s)", (metric, at, value))


def test_inventory_routes_on_a_station_server(station_database_url: str) -> None:
    _seed(station_database_url)
    writer = headers(TEST_TOKENS, "inventory:read", "inventory:write", stations=frozenset({STATION}))
    reader = headers(TEST_TOKENS, "inventory:read", stations=frozenset({STATION}))
    with TestClient(create_app(station_database_url, tokens=TEST_TOKENS, role=Role.STATION)) as http:
        assert http.get(f"{BASE}/tank-reconciliation").status_code == 401
        assert http.get(f"{BASE}/tank-reconciliation",
                        headers=headers(TEST_TOKENS, "shift:read")).status_code == 403
        assert http.get(f"{BASE}/tank-reconciliation", headers=headers(
            TEST_TOKENS, "inventory:read", stations=frozenset({"other"}))).status_code == 403
        note = {"note_no": "XC-9", "tank": 1, "supplier": "中石化", "carrier": "顺达物流", "vehicle": "沪A1",
                "arrived_at": (DAY_START + timedelta(hours=3)).isoformat(), "invoiced_l_observed": 4000.0,
                "observed_temperature_c": 25.0}
        assert http.post(f"{BASE}/deliveries", json=note, headers=reader).status_code == 403
        first = http.post(f"{BASE}/deliveries", json=note, headers=writer)
        assert first.status_code == 201 and first.json()["recorded"] is True
        again = http.post(f"{BASE}/deliveries", json=note, headers=writer)
        assert again.status_code == 200 and again.json()["recorded"] is False
        bad = http.post(f"{BASE}/deliveries", json={**note, "note_no": "XC-10", "observed_temperature_c": None},
                        headers=writer)
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "invoiced_l_20"
        (listed,) = http.get(f"{BASE}/deliveries", headers=reader).json()["items"]
        assert listed["invoiced_l_20"] == pytest.approx(round(4000.0 * vcf20(25.0, 737.0), 2))
        assert listed["received_l_20"] is None                    # no delivery in the gauge's data

        for at, litres in ((DAY_START, 12_010.0), (DAY_END, 11_000.0)):
            dip = {"tank": 1, "dipped_at": at.isoformat(), "level_mm": 1500.0, "water_mm": 5.0,
                   "volume_l": litres, "temperature_c": 15.0}
            assert http.post(f"{BASE}/tank-dips", json=dip, headers=writer).status_code == 201
        assert http.post(f"{BASE}/tank-dips", json={**dip, "water_mm": 2000.0}, headers=writer).status_code == 422

        assert http.post(f"{BASE}/tank-reconciliation", json={"period": "day", "key": "2026-12-03"},
                         headers=reader).status_code == 403
        computed = http.post(f"{BASE}/tank-reconciliation", json={"period": "day", "key": "2026-12-03"},
                             headers=writer)
        assert computed.status_code == 200, computed.text
        (tank,) = computed.json()["tanks"]
        vcf = vcf20(15.0, 737.0)
        assert tank["opening_l"] == pytest.approx(12_000.0 * vcf, abs=0.01)
        assert tank["sales_l"] == pytest.approx(1_000.0 * vcf, abs=0.01)     # the nozzle meters, not the 995 L
        assert tank["variance_l"] == pytest.approx(-10.0 * vcf, abs=0.02)
        assert tank["status"] == "ok"                                       # 10 L of 1000 L: under 20 L
        arts = tank["detail"]["arts"]
        assert arts["transactions_l"] == 995.0 and arts["nozzle_meters_l"] == 1000.0
        assert arts["tank_meters_l"] == pytest.approx(1010.0, abs=0.01)
        assert arts["dip_l"] == pytest.approx(1010.0, abs=0.01)

        listed_days = http.get(f"{BASE}/tank-reconciliation?period=day", headers=reader).json()
        assert listed_days["total"] == 1 and listed_days["items"][0]["period_key"] == "2026-12-03"
        xlsx = http.get(f"{BASE}/tank-reconciliation?period=day&key=2026-12-03&format=xlsx", headers=reader)
        assert xlsx.status_code == 200 and "spreadsheetml" in xlsx.headers["content-type"]
        assert openpyxl.load_workbook(io.BytesIO(xlsx.content))["罐存比对"]["B3"].value == "92#汽油"
        pdf = http.get(f"{BASE}/tank-reconciliation?period=day&key=2026-12-03&format=pdf", headers=reader)
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
        assert http.get(f"{BASE}/tank-reconciliation?period=day&key=2026-12-04",
                        headers=reader).status_code == 404
        assert http.get(f"{BASE}/tank-reconciliation?period=day&format=pdf", headers=reader).status_code == 422

        # a shift: a pump test poured back into the tank during it moves the book; its report downloads too
        movement = {"reference": "HG-1", "tank": 1, "kind": "pump_test", "litres": 20.0,
                    "at": (DAY_START + timedelta(hours=4)).isoformat()}
        assert http.post(f"{BASE}/tank-movements", json=movement, headers=writer).status_code == 201
        assert http.post(f"{BASE}/tank-movements", json=movement, headers=writer).status_code == 200
        assert http.post(f"{BASE}/tank-movements", json={**movement, "reference": "HG-2", "kind": "theft"},
                         headers=writer).status_code == 422
        with psycopg.connect(station_database_url, autocommit=True) as conn:
            conn.execute("INSERT INTO business.shifts (shift_no, station, status, opened_at, opened_by, closed_at,"
                         " closed_by, report) VALUES (%s, %s, 'closed', %s, 'cashier', %s, 'cashier', '{}')",
                         (SHIFT, STATION, DAY_START, DAY_END))
        shift = http.post(f"{BASE}/tank-reconciliation", json={"period": "shift", "key": SHIFT}, headers=writer)
        assert shift.status_code == 200, shift.text
        (tank,) = shift.json()["tanks"]
        assert tank["variance_l"] == pytest.approx(-30.0 * vcf, abs=0.02)   # 20 L poured back: 30 L missing
        assert tank["status"] == "exceeded"                                 # over 20 L
        for fmt, magic in (("pdf", b"%PDF"), ("xlsx", b"PK")):
            answer = http.get(f"{BASE}/tank-reconciliation?period=shift&key={SHIFT}&format={fmt}", headers=reader)
            assert answer.status_code == 200 and answer.content.startswith(magic)
        assert http.post(f"{BASE}/tank-reconciliation", json={"period": "shift", "key": "no-such-shift"},
                         headers=writer).json()["errors"][0]["field"] == "shift_no"

        tolerance = {"station_loss_pct": 0.5, "station_loss_min_l": 30.0, "road_loss_pct": 0.2}
        assert http.put("/api/v1/inventory/tolerances/92/winter", json=tolerance,
                        headers=writer).status_code == 403
        configurer = headers(TEST_TOKENS, "inventory:configure")
        assert http.put("/api/v1/inventory/tolerances/92/winter", json=tolerance,
                        headers=configurer).json()["changed"] is True
        assert http.put("/api/v1/inventory/tolerances/92/winter", json=tolerance,
                        headers=configurer).json()["changed"] is False
        assert http.put("/api/v1/inventory/tolerances/cng/winter", json=tolerance,
                        headers=configurer).status_code == 404

    with psycopg.connect(station_database_url) as conn:
        actions = [r[0] for r in conn.execute("SELECT action FROM business.audit_log ORDER BY seq").fetchall()]
    assert actions.count("inventory.delivery_note") == 1 and actions.count("inventory.dip") == 2
    assert actions.count("inventory.tolerance") == 1 and actions.count("inventory.movement") == 1


def test_head_office_shows_the_station_servers_results(station_database_url: str, database_url: str,
                                                       broker: BrokerAddress) -> None:
    """The station computes and its outbox carries the result up; head office keeps the copy (once, the newest)
    and answers the reads from it; it computes nothing and takes no notes."""
    _seed(station_database_url)
    writer = headers(TEST_TOKENS, "inventory:read", "inventory:write")
    with TestClient(create_app(station_database_url, tokens=TEST_TOKENS, role=Role.STATION)) as http:
        assert http.post(f"{BASE}/tank-reconciliation", json={"period": "day", "key": "2026-12-03"},
                         headers=writer).status_code == 200

    async def carry() -> None:
        consumer = EventConsumer(database_url, broker, bus=build_bus(policy(Role.HEAD_OFFICE).contexts))
        async with await psycopg.AsyncConnection.connect(station_database_url) as station, \
                await psycopg.AsyncConnection.connect(database_url, autocommit=True) as office:
            sent = await (await station.execute(
                "SELECT topic, payload FROM business.outbox WHERE payload->>'type' = 'inventory.reconciled'"
            )).fetchall()
            assert len(sent) == 1
            topic, payload = sent[0]
            for _ in range(2):                                   # a redelivery changes nothing
                await consumer.handle(office, topic, json.dumps(payload).encode())
    asyncio.run(carry())

    with TestClient(create_app(database_url, tokens=TEST_TOKENS)) as http:
        reader = headers(TEST_TOKENS, "inventory:read")
        listed = http.get(f"{BASE}/tank-reconciliation?period=day", headers=reader).json()
        assert listed["total"] == 1 and listed["items"][0]["variance_l"] == pytest.approx(-10.0 * vcf20(15.0, 737.0),
                                                                                         abs=0.02)
        report = http.get(f"{BASE}/tank-reconciliation?period=day&key=2026-12-03&format=pdf", headers=reader)
        assert report.status_code == 200 and report.content.startswith(b"%PDF")
        assert http.post(f"{BASE}/tank-reconciliation", json={"period": "day", "key": "2026-12-03"},
                         headers=writer).status_code == 405
        assert http.post(f"{BASE}/deliveries", json={}, headers=writer).status_code == 404
