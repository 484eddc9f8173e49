"""Maintenance work orders over the API (control_api/routes/work_orders.py, business_services/equipment): opened
by hand and from an alarm (once per alarm while not done), Idempotency-Key retries, the status moves and the one
refused, station scope on every route, the audit chain, the field errors (docs/alarm-console.md)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import psycopg
import pytest
from fastapi import FastAPI

from control_api.app import create_app
from tests.support.auth import bearer

pytestmark = pytest.mark.integration

RW = ("workorder:read", "workorder:write")


@contextlib.asynccontextmanager
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app), \
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        yield http


async def _audit(url: str) -> list[tuple[str, str, str | None, Any, Any]]:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        cur = await conn.execute("SELECT action, target, station, before, after FROM business.audit_log "
                                 "WHERE action LIKE 'equipment.work_order.%%' ORDER BY seq")
        return [tuple(r) for r in await cur.fetchall()]   # type: ignore[misc]


async def test_open_from_an_alarm_once_move_it_to_done_and_every_change_is_audited(database_url: str) -> None:
    app = create_app(database_url)
    wang = bearer(app, *RW, stations=frozenset({"demo-01"}), username="wang")
    alarm = str(uuid.uuid4())
    body = {"station": "demo-01", "equipment": "lel-02", "fault": "可燃气体二级报警，探头需检查", "alarm_id": alarm}
    async with client(app) as http:
        first = await http.post("/api/v1/work-orders", json=body, headers={**wang, "Idempotency-Key": "wo-000001"})
        assert first.status_code == 200, first.text
        order = first.json()
        assert order["created"] is True and order["status"] == "open" and order["opened_by"] == "wang"
        assert order["alarm_id"] == alarm and order["done_at"] is None
        replayed = await http.post("/api/v1/work-orders", json=body, headers={**wang, "Idempotency-Key": "wo-000001"})
        assert replayed.json() == order and replayed.headers["Idempotent-Replayed"] == "true"
        # the console clicked again (a new key): the alarm's order that is not done, not a second one
        again = await http.post("/api/v1/work-orders", json=body, headers={**wang, "Idempotency-Key": "wo-000002"})
        assert again.json()["id"] == order["id"] and again.json()["created"] is False
        listed = (await http.get("/api/v1/work-orders", params={"alarm_id": alarm}, headers=wang)).json()
        assert [o["id"] for o in listed["items"]] == [order["id"]] and listed["total"] == 1

        url = f"/api/v1/work-orders/{order['id']}/status"
        moved = await http.post(url, json={"status": "in_progress", "assignee": "李工"}, headers=wang)
        assert moved.status_code == 200 and moved.json()["status"] == "in_progress"
        assert moved.json()["assignee"] == "李工"
        repeat = await http.post(url, json={"status": "in_progress"}, headers=wang)
        assert repeat.json()["updated_at"] == moved.json()["updated_at"]          # nothing changed
        done = (await http.post(url, json={"status": "done", "note": "更换探头"}, headers=wang)).json()
        assert done["status"] == "done" and done["note"] == "更换探头" and done["done_at"] is not None
        back = await http.post(url, json={"status": "open"}, headers=wang)
        assert back.status_code == 409 and back.json()["errors"][0]["field"] == "status"
        assert "已完成" in back.json()["detail"]
        # done: the same alarm may open a new order
        fresh = await http.post("/api/v1/work-orders", json=body, headers={**wang, "Idempotency-Key": "wo-000003"})
        assert fresh.json()["created"] is True and fresh.json()["id"] != order["id"]

    audit = await _audit(database_url)
    assert [(a, t, s) for a, t, s, _, _ in audit] == [
        ("equipment.work_order.open", f"work_order:{order['id']}", "demo-01"),
        ("equipment.work_order.status", f"work_order:{order['id']}", "demo-01"),
        ("equipment.work_order.status", f"work_order:{order['id']}", "demo-01"),
        ("equipment.work_order.open", f"work_order:{fresh.json()['id']}", "demo-01")]
    assert audit[1][3]["status"] == "open" and audit[1][4] == {
        "status": "in_progress", "assignee": "李工", "note": "", "equipment": "lel-02",
        "fault": body["fault"], "alarm_id": alarm}


async def test_station_scope_on_every_route_and_field_errors(database_url: str) -> None:
    app = create_app(database_url)
    admin = bearer(app, *RW, username="admin")
    east = bearer(app, *RW, stations=frozenset({"demo-03"}), username="zhao")
    reader = bearer(app, "workorder:read", username="reader")
    async with client(app) as http:
        ours = (await http.post("/api/v1/work-orders", json={"station": "demo-01", "equipment": "tank-1",
                                                            "fault": "液位计无读数"},
                                headers={**admin, "Idempotency-Key": "wo-scope-1"})).json()
        theirs = (await http.post("/api/v1/work-orders", json={"station": "demo-03", "equipment": "disp-01",
                                                              "fault": "加油机报错 E5"},
                                  headers={**admin, "Idempotency-Key": "wo-scope-2"})).json()
        outside = await http.post("/api/v1/work-orders", json={"station": "demo-01", "equipment": "tank-1",
                                                              "fault": "x"},
                                  headers={**east, "Idempotency-Key": "wo-scope-3"})
        assert outside.status_code == 403
        assert (await http.get(f"/api/v1/work-orders/{ours['id']}", headers=east)).status_code == 403
        assert (await http.post(f"/api/v1/work-orders/{ours['id']}/status", json={"status": "done"},
                                headers=east)).status_code == 403
        assert (await http.get("/api/v1/work-orders", params={"station": "demo-01"}, headers=east)).status_code == 403
        seen = (await http.get("/api/v1/work-orders", headers=east)).json()
        assert [o["id"] for o in seen["items"]] == [theirs["id"]] and seen["total"] == 1
        everything = (await http.get("/api/v1/work-orders", headers=admin)).json()
        assert [o["id"] for o in everything["items"]] == [theirs["id"], ours["id"]]          # newest first
        assert (await http.post("/api/v1/work-orders", json={"station": "demo-01", "equipment": "tank-1",
                                                            "fault": "x"},
                                headers={**reader, "Idempotency-Key": "wo-scope-4"})).status_code == 403
        blank = await http.post("/api/v1/work-orders", json={"station": "demo-01", "equipment": "tank-1",
                                                            "fault": "  "},
                                headers={**admin, "Idempotency-Key": "wo-scope-5"})
        assert blank.status_code == 422 and blank.json()["errors"] == [
            {"field": "fault", "message": "请填写故障描述 (fault is required)"}]
        missing = await http.get("/api/v1/work-orders/999999", headers=admin)
        assert missing.status_code == 404 and "999999" in missing.json()["detail"]
        assert (await http.get("/api/v1/work-orders")).status_code == 401
