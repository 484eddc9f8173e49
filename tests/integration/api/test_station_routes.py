"""Station master data over the API: permissions, station scope, the list contract, a nozzle grade edit with
its audit record and version, readable 422s, masked phones, and a station server that refuses edits."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import psycopg
import pytest
from fastapi import FastAPI

from control_api.app import create_app
from forecourt.roles import Role
from forecourt.stations import import_file
from tests.support.auth import bearer

pytestmark = pytest.mark.integration

DEMO = Path(__file__).resolve().parents[3] / "config" / "stations" / "demo.yaml"
NOZZLE = "/api/v1/stations/demo-01/nozzles/disp-01/1/1"


@contextlib.asynccontextmanager
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app), \
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        yield http


@pytest.fixture
async def seeded(database_url: str) -> str:
    await import_file(database_url, DEMO, ["92", "95"], group="demo-co", region="华东")
    return database_url


async def test_a_station_manager_changes_a_nozzles_grade(seeded: str) -> None:
    app = create_app(seeded)
    manager = bearer(app, "station:read", "station:write", stations=frozenset({"demo-01"}), username="wang")
    async with client(app) as http:
        answer = await http.put(NOZZLE, json={"grade": "95"}, headers=manager)
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"version": 2}
        again = await http.put(NOZZLE, json={"grade": "95"}, headers=manager)   # a retry changes nothing
        assert again.json() == {"version": 2}
        nozzles = (await http.get("/api/v1/stations/demo-01/nozzles", headers=manager)).json()
        assert nozzles["total"] == 4
        assert nozzles["items"][0] == {"device": "disp-01", "fuelling_point": 1, "number": 1, "grade": "95",
                                       "grade_name": "95#汽油"}
        station = (await http.get("/api/v1/stations/demo-01", headers=manager)).json()
        assert (station["version"], station["edge_version"]) == (2, None)
    async with await psycopg.AsyncConnection.connect(seeded) as conn:
        cur = await conn.execute("SELECT actor, action FROM business.audit_log ORDER BY seq")
        assert await cur.fetchall() == [("system", "stations.station.import"), ("wang", "stations.nozzle.put")]


async def test_a_grade_no_tank_holds_gets_a_field_error(seeded: str) -> None:
    app = create_app(seeded)
    async with client(app) as http:
        answer = await http.put(NOZZLE, json={"grade": "lng"}, headers=bearer(app, "station:write"))
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "grade"
    assert answer.json()["errors"][0]["message"].startswith("站内没有储存 LNG 的油罐")


async def test_access_needs_a_login_the_permission_and_the_station_in_scope(seeded: str) -> None:
    app = create_app(seeded)
    async with client(app) as http:
        assert (await http.get("/api/v1/stations")).status_code == 401
        assert (await http.put(NOZZLE, json={"grade": "95"},
                               headers=bearer(app, "station:read"))).status_code == 403
        other = bearer(app, "station:read", "station:write", stations=frozenset({"demo-02"}))
        assert (await http.put(NOZZLE, json={"grade": "95"}, headers=other)).status_code == 403
        assert (await http.get("/api/v1/stations/demo-01", headers=other)).status_code == 403
        assert (await http.get("/api/v1/stations", headers=other)).json() == {"items": [], "next_cursor": None,
                                                                              "total": 0}


async def test_the_list_filters_sorts_and_pages(seeded: str) -> None:
    app = create_app(seeded)
    office = bearer(app, "station:read", "station:write")
    async with client(app) as http:
        for code, name, region in (("sh-02", "上海二站", "华东"), ("bj-01", "北京一站", "华北")):
            answer = await http.post("/api/v1/stations", headers=office,
                                     json={"code": code, "name": name, "region": region,
                                           "contacts": [{"name": "李站长", "phone": "13812345678"}]})
            assert answer.status_code == 201, answer.text
        page = (await http.get("/api/v1/stations?limit=2", headers=office)).json()
        assert [s["code"] for s in page["items"]] == ["bj-01", "demo-01"] and page["total"] == 3
        rest = (await http.get(f"/api/v1/stations?limit=2&cursor={page['next_cursor']}", headers=office)).json()
        assert [s["code"] for s in rest["items"]] == ["sh-02"] and rest["next_cursor"] is None
        east = (await http.get("/api/v1/stations?region=华东&q=二站", headers=office)).json()
        assert [s["code"] for s in east["items"]] == ["sh-02"]
        reader = bearer(app, "station:read")
        shown = (await http.get("/api/v1/stations/sh-02", headers=reader)).json()
        assert shown["contacts"] == [{"name": "李站长", "phone": "138****5678"}]
        full = (await http.get("/api/v1/stations/sh-02", headers=office)).json()
        assert full["contacts"][0]["phone"] == "13812345678"
        again = await http.post("/api/v1/stations", headers=office, json={"code": "bj-01", "name": "别的名字"})
        assert again.status_code == 409


async def test_a_station_server_refuses_master_data_edits(seeded: str) -> None:
    app = create_app(seeded, role=Role.STATION)
    async with client(app) as http:
        answer = await http.put(NOZZLE, json={"grade": "95"}, headers=bearer(app, "station:write"))
    assert answer.status_code == 409
    assert "总部" in answer.json()["detail"]


async def test_device_settings_the_edge_could_not_run_are_refused(seeded: str) -> None:
    app = create_app(seeded)
    office = bearer(app, "station:read", "station:write")
    async with client(app) as http:
        bad = await http.put("/api/v1/stations/demo-01/devices/disp-02/settings", headers=office,
                             json={"kind": "dispenser", "settings": {"protocol": "modbus-tcp", "port": "nine"}})
        assert bad.status_code == 422, bad.text
        assert "settings.port" in [e["field"] for e in bad.json()["errors"]]
        good = await http.put("/api/v1/stations/demo-01/devices/disp-02/settings", headers=office,
                              json={"kind": "dispenser", "settings": {"protocol": "modbus-tcp", "host": "127.0.0.1",
                                                                      "port": 5021, "profile": "dispenser-v1"}})
        assert good.json() == {"version": 2}
        devices = (await http.get("/api/v1/stations/demo-01/devices", headers=office)).json()
    assert [d["code"] for d in devices["items"]] == ["disp-01", "chargers", "disp-02"]


async def test_a_shift_time_with_a_zone_is_refused(seeded: str) -> None:
    """Shift times are the station's wall clock; a zone (here one PostgreSQL cannot even parse) is a 422."""
    app = create_app(seeded)
    manager = bearer(app, "station:read", "station:write", stations=frozenset({"demo-01"}), username="wang")
    async with client(app) as http:
        zoned = await http.put("/api/v1/stations/demo-01/shifts/early", headers=manager,
                               json={"name": "早班", "starts": "06:00:00+20:00", "ends": "14:00:00"})
        assert zoned.status_code == 422 and "时区" in zoned.text
        local = await http.put("/api/v1/stations/demo-01/shifts/early", headers=manager,
                               json={"name": "早班", "starts": "06:00:00", "ends": "14:00:00"})
        assert local.status_code == 200, local.text
