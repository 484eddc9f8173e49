"""The points API against real PostgreSQL: rules with effective dates and audited changes, the quote, a member's
balance and history in the caller's scope, adjustments, transfers, 积分归属 and the mall, each POST resent with
its Idempotency-Key changing nothing, and clear 409/422 answers (never a 500)."""

from __future__ import annotations

import io
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import openpyxl
import psycopg
import pytest
from fastapi.testclient import TestClient

from business_services.bootstrap import build_bus
from business_services.consumer import EventConsumer
from control_api.app import create_app
from forecourt.roles import Role, policy
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.events.orders import OrderChanged, OrderCreated
from tests.support.auth import TEST_TOKENS, admin_headers, headers

pytestmark = pytest.mark.integration

ALICE, BOB = "M00000001", "M00000002"
NOW = datetime.now(UTC).replace(microsecond=0)
BASE = {"name": "每元 1 分", "kind": "base", "basis": "amount", "rate": "1", "effective_from": "2024-01-01"}


def member_day() -> dict[str, object]:
    """A member-day rule for today in China (UTC+8), as the quote that follows it counts the day: taken when the
    test runs, not when the module was imported (a run that passes midnight in China would be a day off)."""
    return {"name": "会员日", "kind": "day", "multiplier": "2",
            "day_of_month": (datetime.now(UTC) + timedelta(hours=8)).day, "effective_from": "2024-01-01"}


def post(http: TestClient, path: str, body: object, key: str, who: dict[str, str] | None = None) -> object:
    return http.post(path, json=body, headers=(who or admin_headers()) | {"Idempotency-Key": key})


async def sell(database_url: str, broker: BrokerAddress, n: int, member_no: str | None, station: str = "st-01",
               amount_fen: int = 29_000, at: datetime = NOW) -> str:
    """A paid order of ``station`` reaching head office (order.created, then order.changed paid)."""
    order_no = f"{station}-20261204-O{n:05d}"
    consumer = EventConsumer(database_url, broker, bus=build_bus(policy(Role.HEAD_OFFICE).contexts))
    events = [OrderCreated(order_no=order_no, station=station, kind="fuelling", status="payable", version=1,
                           grade=92, volume_l=Decimal("40.00"), amount_fen=amount_fen, created_at=at),
              OrderChanged(order_no=order_no, station=station, version=2, action="payment", status="paid",
                           paid_fen=amount_fen, at=at, member_no=member_no)]
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        for payload in events:
            event = payload.envelope(source=f"station:{station}", event_id=payload.event_id())
            await consumer.handle(conn, f"forecourt/v1/g/{station}/events/{event.type}", event.to_bytes())
    return order_no


async def audited(database_url: str, prefix: str) -> list[str]:
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        cur = await conn.execute("SELECT action FROM business.audit_log WHERE action LIKE %s ORDER BY seq",
                                 (prefix + "%",))
        return [row[0] for row in await cur.fetchall()]


async def test_rules_quote_and_effective_dates(database_url: str) -> None:
    with TestClient(create_app(database_url, tokens=TEST_TOKENS)) as http:
        base = post(http, "/api/v1/points/rules", BASE, "rule-key-0001")
        assert base.status_code == 200, base.text
        again = post(http, "/api/v1/points/rules", BASE, "rule-key-0001")
        assert again.json()["id"] == base.json()["id"] and again.headers["Idempotent-Replayed"] == "true"
        today = member_day()
        assert post(http, "/api/v1/points/rules", today, "rule-key-0002").status_code == 200
        quote = {"member_no": ALICE, "station": "st-01", "grade": "92", "amount_fen": 29_099}
        cashier = headers(TEST_TOKENS, "member:register", stations=frozenset({"st-01"}))
        answer = http.post("/api/v1/points/quote", json=quote, headers=cashier)
        assert answer.status_code == 200, answer.text
        assert answer.json()["points"] == 581                    # floor(290.99 × 2) on the member day
        assert http.post("/api/v1/points/quote", json=quote | {"station": "st-02"}, headers=cashier).status_code == 403

        ended = dict(today, effective_to=(NOW - timedelta(days=2)).date().isoformat())
        rules = http.get("/api/v1/points/rules", params={"kind": "day"}, headers=admin_headers()).json()
        rule_id = rules["items"][0]["id"]
        assert http.patch(f"/api/v1/points/rules/{rule_id}", json=ended, headers=admin_headers()).status_code == 200
        assert http.post("/api/v1/points/quote", json=quote, headers=cashier).json()["points"] == 290

        bad = http.post("/api/v1/points/rules", json=BASE | {"kind": "level"},
                        headers=admin_headers() | {"Idempotency-Key": "rule-key-0003"})
        assert bad.status_code == 422 and "level" in bad.json()["detail"]
        assert "须填写" in bad.json()["detail"]
        marketing_scoped = headers(TEST_TOKENS, "points:write", "member:read", stations=frozenset({"st-01"}))
        assert post(http, "/api/v1/points/rules", BASE, "rule-key-0004", marketing_scoped).status_code == 403
    assert await audited(database_url, "points.rule") == ["points.rule.add", "points.rule.add",
                                                          "points.rule.change"]


async def test_balance_history_adjust_transfer_and_assign(database_url: str, broker: BrokerAddress) -> None:
    with TestClient(create_app(database_url, tokens=TEST_TOKENS)) as http:
        assert post(http, "/api/v1/points/rules", BASE, "rule-key-0001").status_code == 200
        alice, bob, carol = (http.post("/api/v1/members", json={"phone": phone, "source": "back_office"},
                                       headers=admin_headers() | {"Idempotency-Key": f"member-key-{phone}"}
                                       ).json()["member_no"] for phone in ("13900139000", "13700137000", "13600136000"))
        await sell(database_url, broker, 1, alice)
        await sell(database_url, broker, 2, alice, station="st-02", amount_fen=10_000)
        order = await sell(database_url, broker, 3, None, amount_fen=5_000)
        summary = http.get(f"/api/v1/points/members/{alice}", headers=admin_headers()).json()
        assert (summary["balance"], summary["debt"]) == (390, 0)
        assert sum(e["points"] for e in summary["expiring"]) == 390

        grant = post(http, f"/api/v1/points/members/{alice}/adjustments", {"points": 10, "reason": "补偿"},
                     "adj-key-01")
        assert grant.json()["balance"] == 400
        assert post(http, f"/api/v1/points/members/{alice}/adjustments", {"points": 10, "reason": "补偿"},
                    "adj-key-01").json()["balance"] == 400                       # resent: granted once
        too_much = post(http, f"/api/v1/points/members/{alice}/adjustments", {"points": -401, "reason": "扣减"},
                        "adj-key-02")
        assert too_much.status_code == 409 and "积分不足" in too_much.json()["detail"], too_much.text

        nobody = post(http, "/api/v1/points/transfers", {"from_member": alice, "to_member": "M99999999",
                                                          "points": 100}, "tr-key-0")
        assert nobody.status_code == 404 and "没有会员" in nobody.json()["detail"]     # not registered
        gift = post(http, "/api/v1/points/transfers", {"from_member": alice, "to_member": bob, "points": 100},
                    "tr-key-1")
        assert gift.status_code == 200 and gift.json()["balance"] == 300, (bob, gift.text)
        assert post(http, "/api/v1/points/transfers", {"from_member": alice, "to_member": alice, "points": 1},
                    "tr-key-2").status_code == 422
        assigned = post(http, "/api/v1/points/assignments", {"station": "st-01", "order_no": order,
                                                            "member_no": bob}, "as-key-1")
        assert assigned.status_code == 200 and assigned.json()["points"] == 50, assigned.text
        again = post(http, "/api/v1/points/assignments", {"station": "st-01", "order_no": order, "member_no": carol},
                     "as-key-2")
        assert again.status_code == 409 and "归属过一次" in again.json()["detail"], again.text
        assert http.get(f"/api/v1/points/members/{bob}", headers=admin_headers()).json()["balance"] == 150

        everyone = http.get(f"/api/v1/points/members/{alice}/history", params={"limit": 2}, headers=admin_headers())
        assert everyone.status_code == 200
        first = everyone.json()
        assert first["total"] == 4 and len(first["items"]) == 2 and first["next_cursor"]
        assert [m["change"] for m in first["items"]] == [-100, 10]
        rest = http.get(f"/api/v1/points/members/{alice}/history", params={"cursor": first["next_cursor"]},
                        headers=admin_headers()).json()
        assert [(m["change"], m["station"]) for m in rest["items"]] == [(100, "st-02"), (290, "st-01")]
        assert rest["lots"] == []                                      # lots come with the first page
        assert {lot["source"] for lot in first["lots"]} == {"awarded", "adjusted"}
        scoped = headers(TEST_TOKENS, "member:read", stations=frozenset({"st-01"}))
        seen = http.get(f"/api/v1/points/members/{alice}/history", headers=scoped).json()["items"]
        assert [(m["station"], m["reference"]) for m in seen if m["change"] == 100] == [(None, None)]
    assert await audited(database_url, "points.") == ["points.rule.add", "points.adjust", "points.transfer",
                                                      "points.assign"]


async def test_the_mall_redeems_once_and_refuses_clearly(database_url: str, broker: BrokerAddress) -> None:
    with TestClient(create_app(database_url, tokens=TEST_TOKENS)) as http:
        assert post(http, "/api/v1/points/rules", BASE, "rule-key-0001").status_code == 200
        await sell(database_url, broker, 1, ALICE, amount_fen=100_000)
        item = {"sku": "wash-1", "name": "洗车券", "kind": "coupon", "points": 400, "stock": 1, "value_fen": 3000}
        assert post(http, "/api/v1/points/mall/items", item, "item-key-1").status_code == 200
        dup = post(http, "/api/v1/points/mall/items", item, "item-key-2")
        assert dup.status_code == 409 and "已存在" in dup.json()["detail"]
        redeem = {"member_no": ALICE, "sku": "wash-1", "station": "st-01"}
        first = post(http, "/api/v1/points/mall/redemptions", redeem, "red-key-1")
        assert first.status_code == 200, first.text
        assert post(http, "/api/v1/points/mall/redemptions", redeem, "red-key-1").json() == first.json()
        out = post(http, "/api/v1/points/mall/redemptions", redeem, "red-key-2")
        assert out.status_code == 409 and "库存不足" in out.json()["detail"]
        assert http.patch("/api/v1/points/mall/items/wash-1", json={"stock": 3},
                          headers=admin_headers()).json()["stock"] == 3
        assert post(http, "/api/v1/points/mall/redemptions", redeem | {"quantity": 2}, "red-key-3").status_code == 409
        assert post(http, "/api/v1/points/mall/redemptions", redeem | {"sku": "none"}, "red-key-4").status_code == 422
        listed = http.get("/api/v1/points/mall/items", headers=admin_headers()).json()
        assert [(i["sku"], i["stock"]) for i in listed["items"]] == [("wash-1", 3)]
        redemptions = http.get("/api/v1/points/mall/redemptions", headers=admin_headers()).json()
        assert [(r["name"], r["points"]) for r in redemptions["items"]] == [("洗车券", 400)]
        other_station = headers(TEST_TOKENS, "member:read", stations=frozenset({"st-02"}))
        assert http.get("/api/v1/points/mall/redemptions", headers=other_station).json()["items"] == []
        assert http.get(f"/api/v1/points/members/{ALICE}", headers=admin_headers()).json()["balance"] == 600

        marketing = headers(TEST_TOKENS, "member:read", "export:create", username="marketing")
        started = http.post("/api/v1/exports", json={"kind": "points_redemptions", "filters": {"member_no": ALICE,
                            "sku": ""}, "request_id": "redemptions-1"}, headers=marketing)
        assert started.status_code == 202, started.text
        for _ in range(100):
            job = http.get(f"/api/v1/exports/{started.json()['id']}", headers=marketing).json()
            if job["status"] != "running":
                break
            time.sleep(0.1)
        file = http.get(f"/api/v1/exports/{started.json()['id']}/file", headers=marketing)
        assert file.status_code == 200, (job, file.text)
    sheet = openpyxl.load_workbook(io.BytesIO(file.content), read_only=True).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:7] == ("兑换时间", "兑换单号", "会员号", "商品编码", "商品名称", "数量", "消耗积分")
    assert [r[2:7] for r in rows[1:]] == [(ALICE, "wash-1", "洗车券", 1, 400)]
    assert await audited(database_url, "points.mall") == ["points.mall.item.add", "points.mall.item.change"]


def test_a_station_server_refuses_points_changes(database_url: str) -> None:
    with TestClient(create_app(database_url, tokens=TEST_TOKENS, role=Role.STATION)) as http:
        answer = post(http, "/api/v1/points/rules", BASE, "rule-key-0001")
        assert answer.status_code == 409 and "总部" in answer.json()["detail"]


async def test_the_member_level_s_multiplier_counts(database_url: str, broker: BrokerAddress) -> None:
    """The level's own points multiplier (members context, 等级与权益) in the quote and in the award."""
    with TestClient(create_app(database_url, tokens=TEST_TOKENS)) as http:
        assert post(http, "/api/v1/points/rules", BASE, "rule-key-0001").status_code == 200
        registered = http.post("/api/v1/members", json={"phone": "13800138000", "source": "back_office"},
                               headers=admin_headers() | {"Idempotency-Key": "member-key-1"})
        assert registered.status_code == 201, registered.text
        member_no = registered.json()["member_no"]
        quote = {"member_no": member_no, "station": "st-01", "amount_fen": 10_000}
        assert http.post("/api/v1/points/quote", json=quote, headers=admin_headers()).json() == {
            "member_no": member_no, "points": 100, "level": "normal"}
        normal = {"name": "普通会员", "rank": 0, "growth_min": 0, "points_multiplier": 2.0}
        assert http.patch("/api/v1/member-levels/normal", json=normal, headers=admin_headers()).status_code == 200
        assert http.post("/api/v1/points/quote", json=quote, headers=admin_headers()).json()["points"] == 200
        await sell(database_url, broker, 1, member_no, amount_fen=10_000)
        assert http.get(f"/api/v1/points/members/{member_no}", headers=admin_headers()).json()["balance"] == 200
