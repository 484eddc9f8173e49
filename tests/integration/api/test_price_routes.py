"""Prices over the head-office API: a change within the limits goes down at once, one over them waits for a
second person, the second confirmation, Idempotency-Key retries, station scope, the preview, the history, the
policy, special-price rules, the notice and the partners' current prices (docs/prices.md)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import psycopg
import pytest
from fastapi import FastAPI

from business_services.prices.demo import seed_demo_prices
from control_api.app import create_app
from forecourt.roles import Role
from forecourt.stations import import_file
from tests.support.auth import bearer

pytestmark = pytest.mark.integration

DEMO = Path(__file__).resolve().parents[3] / "config" / "stations" / "demo.yaml"
WRITER = ("price:read", "price:write")


@contextlib.asynccontextmanager
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app), \
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        yield http


@pytest.fixture
async def seeded(database_url: str) -> str:
    await import_file(database_url, DEMO, ["92", "95"], group="demo-co", region="华东")
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        assert await seed_demo_prices(conn, "demo-01", "demo-co") == 1
        assert await seed_demo_prices(conn, "demo-01", "demo-co") is None      # seeding again changes nothing
    return database_url


async def _outbox(url: str) -> list[tuple[str, dict[str, object]]]:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        cur = await conn.execute("SELECT event_id, payload FROM business.outbox WHERE event_id LIKE 'price-set/%' "
                                 "ORDER BY seq")
        return [(e, p) for e, p in await cur.fetchall()]


def _change(**extra: object) -> dict[str, object]:
    return {"stations": ["demo-01"], "grades": {"92": 799}, "reason": "国家发改委调价", **extra}


async def test_a_change_within_the_limits_goes_down_at_once_and_a_retry_changes_nothing(seeded: str) -> None:
    app = create_app(seeded)
    wang = bearer(app, *WRITER, stations=frozenset({"demo-01"}), username="wang")
    async with client(app) as http:
        preview = (await http.post("/api/v1/price-changes/preview", json=_change(), headers=wang)).json()
        assert preview["needs_approval"] is False and preview["why"] == []
        assert preview["nozzles_affected"] == 2                        # the two 92# nozzles of disp-01
        assert preview["limits"] == {"step_fen": 50, "step_pct": 5.0, "day_fen": 100}
        assert preview["lines"] == [{"station": "demo-01", "grade": "92", "device": None, "fuelling_point": None,
                                     "nozzle": None, "old_price_fen": 789, "new_price_fen": 799, "delta_fen": 10,
                                     "delta_pct": 1.27, "over_step": False, "over_day": False}]
        unconfirmed = await http.post("/api/v1/price-changes", json=_change(),
                                      headers={**wang, "Idempotency-Key": "change-0001"})
        assert unconfirmed.status_code == 422 and unconfirmed.json()["errors"][0]["field"] == "confirmed"
        key = {**wang, "Idempotency-Key": "change-0002"}
        answer = await http.post("/api/v1/price-changes", json=_change(confirmed=True), headers=key)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["state"] == "sent" and body["approval_id"] is None
        assert body["stations"] == [{"station": "demo-01", "version": 2}]
        again = await http.post("/api/v1/price-changes", json=_change(confirmed=True), headers=key)
        assert again.json() == body and again.headers["Idempotent-Replayed"] == "true"
        prices = (await http.get("/api/v1/stations/demo-01/prices", headers=wang)).json()
        assert prices["latest"] == {"version": 2, "state": "applying", "effective_at": prices["latest"]["effective_at"],
                                    "change_no": body["change_no"]}
        assert {(n["grade"], n["price_fen"], n["state"]) for n in prices["nozzles"]} == {
            ("92", 799, "pending"), ("95", 836, "pending")}
        history = (await http.get("/api/v1/stations/demo-01/price-sets", headers=wang)).json()
        assert [(s["version"], s["requested_by"], s["pending"]) for s in history["items"]] == [(2, "wang", 4),
                                                                                                (1, "system", 4)]
        detail = (await http.get(f"/api/v1/price-changes/{body['change_no']}", headers=wang)).json()
        assert detail["lines"][0]["old_price_fen"] == 789 and detail["versions"] == body["stations"]
    sent = await _outbox(seeded)
    assert [e for e, _ in sent] == ["price-set/demo-01/1", "price-set/demo-01/2"]
    data = sent[1][1]["data"]
    assert isinstance(data, dict) and data["grades"] == {"92": 799, "95": 836} and data["version"] == 2


async def test_over_the_limit_waits_for_another_person(seeded: str) -> None:
    app = create_app(seeded)
    wang = bearer(app, *WRITER, "approval:read", "approval:decide", username="wang")
    li = bearer(app, *WRITER, "approval:read", "approval:decide", username="li")
    async with client(app) as http:
        preview = (await http.post("/api/v1/price-changes/preview", json=_change(grades={"92": 889}),
                                   headers=wang)).json()
        assert preview["needs_approval"] and preview["lines"][0]["over_step"] and not preview["lines"][0]["over_day"]
        answer = (await http.post("/api/v1/price-changes", json=_change(grades={"92": 889}, confirmed=True),
                                  headers={**wang, "Idempotency-Key": "change-0003"})).json()
        assert answer["state"] == "awaiting_approval" and answer["stations"] == [{"station": "demo-01",
                                                                                   "version": None}]
        approval = answer["approval_id"]
        own = await http.post(f"/api/v1/approvals/{approval}/approve", json={}, headers=wang)
        assert own.status_code == 403                                   # never the requester
        assert len(await _outbox(seeded)) == 1                          # nothing went down yet
        approved = await http.post(f"/api/v1/approvals/{approval}/approve", json={}, headers=li)
        assert approved.status_code == 200, approved.text
        detail = (await http.get(f"/api/v1/price-changes/{answer['change_no']}", headers=wang)).json()
        assert (detail["state"], detail["approved_by"]) == ("sent", "li")
        cancel = await http.post(f"/api/v1/price-changes/{answer['change_no']}/cancel",
                                 headers={**wang, "Idempotency-Key": "cancel-0001"})
        assert cancel.status_code == 409                                # a sent change stays
    assert [e for e, _ in await _outbox(seeded)] == ["price-set/demo-01/1", "price-set/demo-01/2"]


async def test_a_scheduled_change_can_be_cancelled_and_the_calendar_shows_it(seeded: str) -> None:
    app = create_app(seeded)
    wang = bearer(app, *WRITER, username="wang")
    async with client(app) as http:
        answer = (await http.post("/api/v1/price-changes", json=_change(effective_at="2099-01-01T00:00:00+08:00",
                                                                        confirmed=True),
                                  headers={**wang, "Idempotency-Key": "change-0004"})).json()
        assert answer["state"] == "scheduled"
        prices = (await http.get("/api/v1/stations/demo-01/prices", headers=wang)).json()
        assert prices["latest"]["state"] == "scheduled" and prices["latest"]["version"] is None
        calendar = (await http.get("/api/v1/price-changes/calendar", params={
            "from": "2098-12-01T00:00:00+08:00", "to": "2099-02-01T00:00:00+08:00"}, headers=wang)).json()
        assert [(c["change_no"], c["state"]) for c in calendar] == [(answer["change_no"], "scheduled")]
        assert calendar[0]["summary"] == "调价 demo-01 92 7.89→7.99"
        cancelled = await http.post(f"/api/v1/price-changes/{answer['change_no']}/cancel",
                                    headers={**wang, "Idempotency-Key": "cancel-0002"})
        assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
        listed = (await http.get("/api/v1/price-changes", params={"state": "cancelled"}, headers=wang)).json()
        assert [c["change_no"] for c in listed["items"]] == [answer["change_no"]] and listed["next_cursor"] is None
    async with await psycopg.AsyncConnection.connect(seeded) as conn:
        cur = await conn.execute("SELECT action FROM business.audit_log WHERE action LIKE 'prices.%' ORDER BY seq")
        assert [a for (a,) in await cur.fetchall()] == ["prices.set.seed", "prices.change.request",
                                                        "prices.change.cancel"]
        cur = await conn.execute("SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'send_due_price_changes'")
        assert await cur.fetchone() == (1,)                             # deferred at its time, with the change


async def test_login_permission_and_station_scope(seeded: str) -> None:
    app = create_app(seeded)
    outside = bearer(app, *WRITER, "price:policy", stations=frozenset({"demo-02"}))
    async with client(app) as http:
        assert (await http.get("/api/v1/stations/demo-01/prices")).status_code == 401
        assert (await http.get("/api/v1/stations/demo-01/prices",
                               headers=bearer(app, "station:read"))).status_code == 403
        assert (await http.get("/api/v1/stations/demo-01/prices", headers=outside)).status_code == 403
        assert (await http.post("/api/v1/price-changes", json=_change(confirmed=True),
                                headers={**outside, "Idempotency-Key": "change-0005"})).status_code == 403
        assert (await http.get("/api/v1/prices/current", params={"station": "demo-01"},
                               headers=outside)).status_code == 403
        assert (await http.put("/api/v1/price-policy", json={"step_fen": 60, "step_pct": 6, "day_fen": 120},
                               headers=outside)).status_code == 403          # the limits need company scope
        listed = (await http.get("/api/v1/prices/stations", headers=outside)).json()
        assert listed == {"items": [], "next_cursor": None, "total": 0}


async def test_policy_rules_notice_and_current_prices(seeded: str) -> None:
    app = create_app(seeded)
    boss = bearer(app, *WRITER, "price:policy", "price:rule", username="boss")
    async with client(app) as http:
        put = await http.put("/api/v1/price-policy", json={"step_fen": 120, "step_pct": 20, "day_fen": 200},
                             headers=boss)
        assert put.json() == {"step_fen": 120, "step_pct": 20.0, "day_fen": 200}
        again = await http.put("/api/v1/price-policy", json={"step_fen": 120, "step_pct": 20, "day_fen": 200},
                               headers=boss)                            # a PUT resent: nothing changes
        assert again.json() == put.json()
        preview = (await http.post("/api/v1/price-changes/preview", json=_change(grades={"92": 889}),
                                   headers=boss)).json()
        assert preview["needs_approval"] is False                       # 100 fen is within the new limits
        bad = await http.post("/api/v1/price-rules", json={"kind": "tier", "params": {"basis": "week"}},
                              headers={**boss, "Idempotency-Key": "rule-bad-0001"})
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "params.basis"
        rule = (await http.post("/api/v1/price-rules", json={
            "kind": "member_level", "stations": ["demo-01"], "grade": "92", "params": {"level": "gold", "off_fen": 20},
            "note": "金卡会员"}, headers={**boss, "Idempotency-Key": "rule-gold-0001"})).json()
        assert rule["params"] == {"level": "gold", "off_fen": 20} and rule["valid_to"] is None
        ended = (await http.post(f"/api/v1/price-rules/{rule['id']}/end", headers=boss)).json()
        assert ended["valid_to"] is not None and ended["ended_by"] == "boss"
        assert (await http.get("/api/v1/price-rules", params={"active": "true"}, headers=boss)).json() == []
        change = (await http.post("/api/v1/price-changes", json=_change(grades={"92": 819, "95": 866},
                                                                        confirmed=True),
                                  headers={**boss, "Idempotency-Key": "change-0006"})).json()
        url = f"/api/v1/price-changes/{change['change_no']}/notice"
        page = await http.get(url, params={"station": "demo-01"}, headers=boss)
        assert page.status_code == 200 and "调价公告" in page.text and "8.19" in page.text and "92#汽油" in page.text
        pdf = await http.get(url, params={"station": "demo-01", "format": "pdf"}, headers=boss)
        assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
        current = (await http.get("/api/v1/prices/current", params={"station": "demo-01"}, headers=boss)).json()
        assert current == {"station": "demo-01", "name": current["name"], "version": None, "grades": []}
    async with await psycopg.AsyncConnection.connect(seeded) as conn:
        cur = await conn.execute("SELECT before, after FROM business.audit_log WHERE action = 'prices.policy.set'")
        audited = await cur.fetchall()
        assert len(audited) == 1                                        # the resent PUT wrote nothing
        before, after = json.loads(json.dumps(audited[0]))
        assert before["step_fen"] == 50 and after["step_fen"] == 120


async def test_a_station_server_refuses_price_changes(seeded: str) -> None:
    app = create_app(seeded, role=Role.STATION)
    boss = bearer(app, *WRITER, "price:policy")
    async with client(app) as http:
        answer = await http.post("/api/v1/price-changes", json=_change(confirmed=True),
                                 headers={**boss, "Idempotency-Key": "change-0007"})
        assert answer.status_code == 409 and "总部" in answer.json()["detail"]
        assert (await http.put("/api/v1/price-policy", json={"step_fen": 60, "step_pct": 6, "day_fen": 120},
                               headers=boss)).status_code == 409


async def test_lists_page_with_the_projects_cursor(seeded: str) -> None:
    app = create_app(seeded)
    wang = bearer(app, *WRITER, username="wang")
    async with client(app) as http:
        made = []
        for i, price in enumerate((799, 809, 819)):
            answer = await http.post("/api/v1/price-changes", json=_change(grades={"92": price}, confirmed=True),
                                     headers={**wang, "Idempotency-Key": f"change-page-{i}"})
            made.append(answer.json()["change_no"])
        first = (await http.get("/api/v1/price-changes", params={"limit": 2}, headers=wang)).json()
        assert [c["change_no"] for c in first["items"]] == made[:0:-1] and first["total"] == 3
        rest = (await http.get("/api/v1/price-changes", params={"limit": 2, "cursor": first["next_cursor"]},
                               headers=wang)).json()
        assert [c["change_no"] for c in rest["items"]] == made[:1] and rest["next_cursor"] is None
        sets = (await http.get("/api/v1/stations/demo-01/price-sets", params={"limit": 3}, headers=wang)).json()
        assert [s["version"] for s in sets["items"]] == [4, 3, 2] and sets["next_cursor"] is not None
        last = (await http.get("/api/v1/stations/demo-01/price-sets", params={"cursor": sets["next_cursor"]},
                               headers=wang)).json()
        assert [s["version"] for s in last["items"]] == [1] and last["next_cursor"] is None
        broken = await http.get("/api/v1/price-changes", params={"cursor": "not-a-cursor"}, headers=wang)
        assert broken.status_code == 422


async def test_a_rule_is_made_once_per_key_and_ending_it_twice_changes_nothing(seeded: str) -> None:
    app = create_app(seeded)
    boss = bearer(app, "price:read", "price:rule", username="boss")
    rule = {"kind": "fleet_agreement", "stations": ["demo-01"], "grade": "92",
            "params": {"fleet": "F001", "price_fen": 759}, "valid_to": "2027-01-01T00:00:00+08:00"}
    async with client(app) as http:
        unkeyed = await http.post("/api/v1/price-rules", json=rule, headers=boss)
        assert unkeyed.status_code == 422                               # the header is required
        key = {**boss, "Idempotency-Key": "rule-fleet-0001"}
        first = await http.post("/api/v1/price-rules", json=rule, headers=key)
        assert first.status_code == 200, first.text
        again = await http.post("/api/v1/price-rules", json=rule, headers=key)      # the answer was lost: resent
        assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
        assert [r["id"] for r in (await http.get("/api/v1/price-rules", headers=boss)).json()] == [first.json()["id"]]
        end = f"/api/v1/price-rules/{first.json()['id']}/end"
        ended = (await http.post(end, headers=boss)).json()
        twice = (await http.post(end, headers=boss)).json()
        assert ended["valid_to"] is not None and twice == ended         # the same end, not a later one
    async with await psycopg.AsyncConnection.connect(seeded) as conn:
        cur = await conn.execute("SELECT action, count(*) FROM business.audit_log WHERE action LIKE 'prices.rule.%' "
                                 "GROUP BY action ORDER BY action")
        assert await cur.fetchall() == [("prices.rule.add", 1), ("prices.rule.end", 1)]


async def test_rules_are_kept_per_station_and_the_limits_with_the_company(seeded: str) -> None:
    """price:rule for the caller's stations (every station: company scope); price:policy with company scope;
    the limits are read with price:read."""
    app = create_app(seeded)
    region = bearer(app, *WRITER, "price:rule", stations=frozenset({"demo-01"}), username="region")
    rule = {"kind": "member_level", "grade": "92", "params": {"level": "gold", "off_fen": 20}}
    async with client(app) as http:
        mine = await http.post("/api/v1/price-rules", json={**rule, "stations": ["demo-01"]},
                               headers={**region, "Idempotency-Key": "rule-region-0001"})
        assert mine.status_code == 200 and mine.json()["stations"] == ["demo-01"]
        other = await http.post("/api/v1/price-rules", json={**rule, "stations": ["demo-01", "demo-02"]},
                                headers={**region, "Idempotency-Key": "rule-region-0002"})
        assert other.status_code == 403                                 # demo-02 is not the caller's
        every = await http.post("/api/v1/price-rules", json={**rule, "stations": None},
                                headers={**region, "Idempotency-Key": "rule-region-0003"})
        assert every.status_code == 403 and "全公司范围" in every.json()["detail"]
        assert (await http.get("/api/v1/price-policy", headers=region)).json()["step_fen"] == 50
        assert (await http.put("/api/v1/price-policy", json={"step_fen": 60, "step_pct": 6, "day_fen": 120},
                               headers=region)).status_code == 403         # price:policy is not the region's
        scoped = bearer(app, "price:policy", stations=frozenset({"demo-01"}))
        assert (await http.put("/api/v1/price-policy", json={"step_fen": 60, "step_pct": 6, "day_fen": 120},
                               headers=scoped)).status_code == 403         # … and needs the whole company
