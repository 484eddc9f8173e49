"""Price changes by region and a new station's first prices over the head-office API (docs/prices.md "Regions"
and "A station's first prices"): a change naming a region (an org unit of the access tree) reaches the stations
under it that the caller holds, and records the region; a station without prices gets its first set only when
the change prices every grade it sells, with no limits (there is no old price), and a region's change leaves it
out and says so."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
import yaml

from business_services.access.demo import seed_demo_company
from business_services.prices.demo import seed_demo_prices
from control_api.app import create_app
from forecourt.stations import import_file
from tests.integration.api.test_price_routes import DEMO, WRITER, client
from tests.support.auth import bearer

pytestmark = pytest.mark.integration


@pytest.fixture
async def stations(database_url: str, tmp_path: Path) -> str:
    """demo-01 and demo-02 (region east) with prices (92# 7.89, 95# 8.36), demo-03 (west) without any yet."""
    raw = yaml.safe_load(DEMO.read_text())
    for code in ("demo-01", "demo-02", "demo-03"):
        path = tmp_path / f"{code}.yaml"
        path.write_text(yaml.safe_dump({**raw, "station": code}, allow_unicode=True))
        await import_file(database_url, path, ["92", "95"], group="demo-co")
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        await seed_demo_company(conn)
        for code in ("demo-01", "demo-02"):
            assert await seed_demo_prices(conn, code, "demo-co") == 1
    return database_url


def _change(**extra: object) -> dict[str, object]:
    return {"grades": {"92": 799}, "reason": "区域调价", **extra}


async def test_a_change_for_a_region_reaches_its_stations_in_the_callers_scope(stations: str) -> None:
    app = create_app(stations)
    boss = bearer(app, *WRITER, username="boss")
    one = bearer(app, *WRITER, stations=frozenset({"demo-01"}), username="wang")
    async with client(app) as http:
        offered = (await http.get("/api/v1/prices/units", headers=one)).json()
        assert [(u["code"], u["stations"]) for u in offered] == [("changjia", ["demo-01"]), ("east", ["demo-01"])]
        preview = (await http.post("/api/v1/price-changes/preview", json=_change(units=["east"]),
                                   headers=boss)).json()
        assert preview["stations"] == ["demo-01", "demo-02"] and preview["notes"] == []
        assert [(ln["station"], ln["old_price_fen"], ln["new_price_fen"]) for ln in preview["lines"]] == [
            ("demo-01", 789, 799), ("demo-02", 789, 799)]
        mine = (await http.post("/api/v1/price-changes/preview", json=_change(units=["east"]), headers=one)).json()
        assert mine["stations"] == ["demo-01"]                          # demo-02 is not the caller's
        west = await http.post("/api/v1/price-changes/preview", json=_change(units=["west"]), headers=one)
        assert west.status_code == 422 and west.json()["errors"][0]["field"] == "units[0]"
        nowhere = await http.post("/api/v1/price-changes/preview", json=_change(units=["north"]), headers=boss)
        assert nowhere.status_code == 422 and "north" in nowhere.json()["detail"]
        empty = await http.post("/api/v1/price-changes/preview", json=_change(), headers=boss)
        assert empty.status_code == 422 and empty.json()["errors"][0]["field"] == "stations"

        answer = await http.post("/api/v1/price-changes", json=_change(units=["east"], confirmed=True),
                                 headers={**boss, "Idempotency-Key": "region-east-0001"})
        assert answer.status_code == 200, answer.text
        assert answer.json()["stations"] == [{"station": "demo-01", "version": 2}, {"station": "demo-02", "version": 2}]
        detail = (await http.get(f"/api/v1/price-changes/{answer.json()['change_no']}", headers=boss)).json()
        assert detail["units"] == ["east"] and detail["stations"] == ["demo-01", "demo-02"]
        listed = (await http.get("/api/v1/price-changes", params={"station": "demo-02"}, headers=boss)).json()
        assert [c["units"] for c in listed["items"]] == [["east"]]


async def test_a_new_station_gets_its_first_prices_from_a_change(stations: str) -> None:
    app = create_app(stations)
    boss = bearer(app, *WRITER, username="boss")
    async with client(app) as http:
        before = (await http.get("/api/v1/stations/demo-03/prices", headers=boss)).json()
        assert before["latest"] is None and before["grades"] == [] and before["nozzles"] == []
        partial = await http.post("/api/v1/price-changes/preview",
                                  json=_change(stations=["demo-03"], grades={"92": 790}), headers=boss)
        assert partial.status_code == 422 and "95" in partial.json()["detail"]   # a first set prices every grade
        first = {"stations": ["demo-03"], "grades": {"92": 690, "95": 1290}, "reason": "新站开业"}
        preview = (await http.post("/api/v1/price-changes/preview", json=first, headers=boss)).json()
        assert preview["needs_approval"] is False and preview["why"] == []      # no old price: no limit applies
        assert [(ln["grade"], ln["old_price_fen"], ln["delta_fen"]) for ln in preview["lines"]] == [
            ("92", None, 0), ("95", None, 0)]
        assert len(preview["notes"]) == 1 and "首次定价" in preview["notes"][0]
        assert preview["nozzles_affected"] == 4

        region = (await http.post("/api/v1/price-changes/preview", json=_change(units=["changjia"]),
                                  headers=boss)).json()
        assert region["stations"] == ["demo-01", "demo-02"]            # demo-03 has no prices yet: left out …
        assert len(region["notes"]) == 1 and region["notes"][0].startswith("demo-03")    # … and the page says so
        west = await http.post("/api/v1/price-changes/preview", json=_change(units=["west"]), headers=boss)
        assert west.status_code == 422 and west.json()["errors"][0]["field"] == "units"

        answer = await http.post("/api/v1/price-changes", json={**first, "confirmed": True},
                                 headers={**boss, "Idempotency-Key": "first-set-0001"})
        assert answer.status_code == 200, answer.text
        assert answer.json()["state"] == "sent" and answer.json()["stations"] == [{"station": "demo-03", "version": 1}]
        after = (await http.get("/api/v1/stations/demo-03/prices", headers=boss)).json()
        assert {(n["grade"], n["price_fen"], n["state"]) for n in after["nozzles"]} == {
            ("92", 690, "pending"), ("95", 1290, "pending")}
    async with await psycopg.AsyncConnection.connect(stations) as conn:
        cur = await conn.execute("SELECT event_id FROM business.outbox WHERE event_id = 'price-set/demo-03/1'")
        assert await cur.fetchone() is not None
