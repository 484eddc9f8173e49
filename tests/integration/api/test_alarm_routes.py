"""The alarm API (docs/api.md "Alarms"): the list (open first by priority, filters, keyset pages, station scope),
one alarm with its journal, each person's action with its Idempotency-Key, audit record and refusals, the
journal and KPIs, and the rules (create, change, scope, the file no longer overwriting an edited rule)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import psycopg
import pytest
from fastapi import FastAPI

from control_api.app import create_app
from telemetry.alarms import repository
from telemetry.alarms.engine import AlarmEngine
from telemetry.alarms.rules import load_file
from tests.support.auth import bearer

pytestmark = pytest.mark.integration

RULES = """
rules:
  - {code: gas.level2, kind: high_high, device: "lel-*", metric: concentration, limit: 50, priority: urgent,
     area: 加油区, unit: "%LEL", message: 可燃气体二级报警}
  - {code: gas.level1, kind: high, device: "lel-*", metric: concentration, limit: 25, priority: high, area: 加油区}
  - {code: tank.water, kind: high, device: "atg-*", metric: "tank*/water", limit: 50, priority: low, area: 油罐区}
"""
ACK = ("alarm:read", "alarm:ack")


@contextlib.asynccontextmanager
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app), \
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        yield http


async def _point(conn: psycopg.AsyncConnection, station: str, device: str, name: str, value: float) -> None:
    row = await (await conn.execute(
        "INSERT INTO telemetry.metrics (grp, station, device, name, datatype) VALUES ('g', %s, %s, %s, 'Double') "
        "ON CONFLICT (station, device, name) DO UPDATE SET grp = 'g' RETURNING metric_id",
        (station, device, name))).fetchone()
    assert row is not None
    await conn.execute("INSERT INTO telemetry.latest (metric_id, ts, value, quality) VALUES (%s, now(), %s, 'good') "
                       "ON CONFLICT (metric_id) DO UPDATE SET value = EXCLUDED.value, ts = now()", (row[0], value))


@pytest.fixture
async def alarms(database_url: str, tmp_path: Path) -> str:
    """st-a: gas at 60 %LEL (level 1 and 2) and water at 70 mm; st-b: gas at 30 %LEL (level 1)."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await _point(conn, "st-a", "lel-01", "concentration", 60.0)
        await _point(conn, "st-a", "atg-01", "tank1/water", 70.0)
        await _point(conn, "st-b", "lel-01", "concentration", 30.0)
        engine = AlarmEngine(database_url, group="g", rules_file=rules)
        await engine.load_rules(conn)
        assert await engine.evaluate(conn) == 4
    return database_url


async def test_the_list_orders_filters_pages_and_scopes(alarms: str) -> None:
    app = create_app(alarms)
    async with client(app) as http:
        reader = bearer(app, "alarm:read")
        page = (await http.get("/api/v1/alarms", headers=reader)).json()
        assert [a["priority"] for a in page["items"]] == ["urgent", "high", "high", "low"]
        assert page["total"] == 4 and page["items"][0]["message"] == "可燃气体二级报警"
        first = (await http.get("/api/v1/alarms", params={"limit": 3}, headers=reader)).json()
        rest = (await http.get("/api/v1/alarms", params={"limit": 3, "cursor": first["next_cursor"]},
                               headers=reader)).json()
        assert [a["alarm_id"] for a in first["items"] + rest["items"]] == [a["alarm_id"] for a in page["items"]]
        assert rest["next_cursor"] is None
        only = (await http.get("/api/v1/alarms", params={"station": "st-a", "area": "加油区"}, headers=reader)).json()
        assert {a["rule"] for a in only["items"]} == {"gas.level1", "gas.level2"}
        urgent = (await http.get("/api/v1/alarms", params={"priority": "urgent"}, headers=reader)).json()
        assert urgent["total"] == 1
        scoped = bearer(app, "alarm:read", stations=frozenset({"st-b"}))
        mine = (await http.get("/api/v1/alarms", headers=scoped)).json()
        assert {a["station"] for a in mine["items"]} == {"st-b"}
        assert (await http.get("/api/v1/alarms", params={"station": "st-a"}, headers=scoped)).status_code == 403
        other = page["items"][0]["alarm_id"]
        assert (await http.get(f"/api/v1/alarms/{other}", headers=scoped)).status_code == 404
        assert (await http.get("/api/v1/alarms", params={"cursor": "broken"}, headers=reader)).status_code == 422


async def test_actions_with_idempotency_audit_and_refusals(alarms: str) -> None:
    app = create_app(alarms)
    async with client(app) as http:
        acker = bearer(app, *ACK, username="zhang")
        items = (await http.get("/api/v1/alarms", params={"station": "st-a", "priority": "urgent"},
                                headers=acker)).json()["items"]
        alarm = items[0]["alarm_id"]
        url = f"/api/v1/alarms/{alarm}"
        key = {"Idempotency-Key": "ack-0000-0001"}
        first = await http.post(f"{url}/acknowledge", json={"comment": "已疏散"}, headers=acker | key)
        again = await http.post(f"{url}/acknowledge", json={"comment": "已疏散"}, headers=acker | key)
        assert first.status_code == again.status_code == 200 and again.headers.get("Idempotent-Replayed") == "true"
        assert first.json()["state"] == "acknowledged" and first.json()["acknowledged_by"] == "zhang"
        refused = await http.post(f"{url}/acknowledge", json={}, headers=acker | {"Idempotency-Key": "ack-0000-0002"})
        assert refused.status_code == 409 and "不能确认" in refused.json()["detail"]
        bad = await http.post(f"{url}/shelve", json={"minutes": 0, "reason": "x"},
                              headers=acker | {"Idempotency-Key": "shelve-0000-1"})
        assert bad.status_code == 422
        shelved = await http.post(f"{url}/shelve", json={"minutes": 30, "reason": "检修"},
                                  headers=acker | {"Idempotency-Key": "shelve-0000-2"})
        assert shelved.status_code == 200 and shelved.json()["state"] == "shelved" and shelved.json()["shelved_until"]
        back = await http.post(f"{url}/unshelve", headers=acker | {"Idempotency-Key": "unshelve-0000-1"})
        assert back.json()["state"] == "unacknowledged"      # the gas is still there: annunciated again
        oos = await http.post(f"{url}/out-of-service", json={"reason": "更换探头"},
                              headers=acker | {"Idempotency-Key": "oos-000000-1"})
        assert oos.json()["state"] == "out_of_service"
        assert (await http.post(f"{url}/in-service", headers=acker | {"Idempotency-Key": "ins-000000-1"})
                ).json()["state"] == "unacknowledged"
        missing = await http.post("/api/v1/alarms/00000000-0000-4000-8000-000000000000/acknowledge", json={},
                                  headers=acker | {"Idempotency-Key": "ack-0000-0003"})
        assert missing.status_code == 404
        reader_only = bearer(app, "alarm:read")
        assert (await http.post(f"{url}/acknowledge", json={}, headers=reader_only | {
            "Idempotency-Key": "ack-0000-0004"})).status_code == 403

        detail = (await http.get(url, headers=acker)).json()
        assert [(j["event_type"], j["by"]) for j in detail["journal"]] == [
            ("alarm.raised", ""), ("alarm.acknowledged", "zhang"), ("alarm.shelved", "zhang"),
            ("alarm.unshelved", "zhang"), ("alarm.out_of_service", "zhang"), ("alarm.in_service", "zhang")]
        journal = (await http.get("/api/v1/alarms/journal", params={"station": "st-a", "limit": 100},
                                  headers=acker)).json()
        assert journal["total"] == 8 and journal["items"][0]["event_type"] == "alarm.in_service"   # newest first
        kpis = (await http.get("/api/v1/alarms/kpis", headers=acker)).json()
        assert kpis["by_priority"] == {"urgent": 1, "high": 2, "low": 1}
        assert kpis["per_operator_per_10min"]["max"] == 3 and kpis["standing"] == 0
        assert kpis["top_10"][0]["n"] == 1
        assert (await http.get("/api/v1/alarms/kpis", params={"from": "2026-12-04T08:00:00"},
                               headers=acker)).status_code == 422
    async with await psycopg.AsyncConnection.connect(alarms) as conn:
        audit = await (await conn.execute("SELECT action, actor FROM business.audit_log WHERE action LIKE 'alarm.%' "
                                          "ORDER BY seq")).fetchall()
        assert audit == [("alarm.acknowledge", "zhang"), ("alarm.shelve", "zhang"), ("alarm.unshelve", "zhang"),
                         ("alarm.out-of-service", "zhang"), ("alarm.in-service", "zhang")]
        outbox = await (await conn.execute("SELECT count(*) FROM alarms.outbox")).fetchone()
        assert outbox == (9,)      # 4 raised + 5 actions


async def test_rules_are_kept_in_the_back_office(alarms: str, tmp_path: Path) -> None:
    app = create_app(alarms)
    async with client(app) as http:
        admin = bearer(app, "alarm:configure")
        listed = (await http.get("/api/v1/alarm-rules", headers=admin)).json()
        assert listed["total"] == 3 and {r["origin"] for r in listed["items"]} == {"config"}
        water = next(r for r in listed["items"] if r["code"] == "tank.water")
        change = {k: v for k, v in water.items() if k not in ("id", "origin", "updated_at")} | {"limit": 80.0}
        changed = await http.put(f"/api/v1/alarm-rules/{water['id']}", json=change, headers=admin)
        assert changed.status_code == 200 and changed.json()["limit"] == 80.0
        assert changed.json()["origin"] == "back-office"
        new = {"code": "tank.low", "kind": "low", "priority": "medium", "station": "st-a", "device": "atg-*",
               "metric": "tank*/height", "limit": 300, "deadband": 20, "during": ["delivery"]}
        created = await http.post("/api/v1/alarm-rules", json=new, headers=admin)
        assert created.status_code == 201, created.text
        assert (await http.post("/api/v1/alarm-rules", json=new, headers=admin)).status_code == 409
        no_limit = await http.post("/api/v1/alarm-rules", json=new | {"code": "x.y", "limit": None}, headers=admin)
        assert no_limit.status_code == 422 and "limit" in no_limit.text
        scoped = bearer(app, "alarm:configure", stations=frozenset({"st-b"}))
        assert (await http.post("/api/v1/alarm-rules", json=new | {"code": "b.low", "station": ""},
                                headers=scoped)).status_code == 403
        assert (await http.post("/api/v1/alarm-rules", json=new | {"code": "b.low"},
                                headers=scoped)).status_code == 403
        assert (await http.get("/api/v1/alarm-rules", headers=bearer(app, "alarm:read"))).status_code == 403
    # the file read again at the next start leaves the edited rule as the back office wrote it
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    async with await psycopg.AsyncConnection.connect(alarms, autocommit=True) as conn:
        await repository.sync_config_rules(conn, load_file(rules))
        row = await (await conn.execute("SELECT limit_value FROM alarms.rules WHERE code = 'tank.water'")).fetchone()
        assert row == (80.0,)
