"""An account's statement: its postings in the order the balance moved, with the running balance, the opening
and closing balance of a period, keyset pages both ways; and who may read which account over the API."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime

import openpyxl
import psycopg
from fastapi.testclient import TestClient

from business_services.ledger import repository, views
from business_services.ledger.model import (
    card_credit_entry,
    card_debit_entry,
    points_award_entry,
    recharge_entry,
)
from control_api.app import create_app
from telemetry.contracts.events.payments import Method
from tests.support.api_client import served_api
from tests.support.auth import TEST_TOKENS, bearer, headers
from tests.support.events import wait_for

ST = "st-01"
SHIFT = "st-01-20261205-S00001"
CARD = "6225880012345678"
MEMBER = "M00000001"
NOW = datetime(2026, 12, 5, 8, tzinfo=UTC)


async def clock(conn: psycopg.AsyncConnection) -> datetime:
    row = await (await conn.execute("SELECT clock_timestamp()")).fetchone()
    assert row is not None
    return row[0]


async def three_periods(url: str) -> tuple[datetime, datetime]:
    """A recharge of 100.00 and a debit of 30.00; then a debit of 20.00 and a refund of 5.00; then a recharge of
    10.00 (with 1.00 bonus). Returns the two moments between the three."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await repository.post(conn, recharge_entry("C1", CARD, 10000, 0, Method.CASH, ST, SHIFT, NOW))
        await repository.post(conn, card_debit_entry(ST, "P1", CARD, 3000, NOW))
        first = await clock(conn)
        await repository.post(conn, card_debit_entry(ST, "P2", CARD, 2000, NOW))
        await repository.post(conn, card_credit_entry(ST, "R1", CARD, 500, NOW))
        second = await clock(conn)
        await repository.post(conn, recharge_entry("C2", CARD, 1000, 100, Method.WECHAT, ST, SHIFT, NOW))
        await repository.post(conn, points_award_entry("points.awarded:st-01:O1", MEMBER, 120, NOW, "O1", ST))
    return first, second


async def test_a_statement_runs_the_balance_and_opens_and_closes_a_period(database_url: str) -> None:
    first, second = await three_periods(database_url)
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        code = f"card:{CARD}"
        rows, total, last = await views.statement(conn, code, order="oldest")
        assert [(r["seq"], r["amount"], r["balance_after"]) for r in rows] == [
            (1, -10000, 10000), (2, 3000, 7000), (3, 2000, 5000), (4, -500, 5500), (5, -1100, 6600)]
        assert (total, last) == (5, None)
        assert [r["reference"] for r in rows] == ["C1", "P1", "P2", "R1", "C2"]

        middle, total, _ = await views.statement(conn, code, since=first, until=second, order="oldest")
        assert [r["balance_after"] for r in middle] == [5000, 5500] and total == 2
        assert await views.period(conn, code, since=first, until=second) == {
            "opening": 7000, "closing": 5500, "debits": 2000, "credits": 500}
        assert await views.period(conn, code, since=second, until=None) == {
            "opening": 5500, "closing": 6600, "debits": 0, "credits": 1100}
        assert await views.period(conn, code, since=None, until=first) == {
            "opening": 0, "closing": 7000, "debits": 3000, "credits": 10000}

        pages, after = [], None          # keyset pages, newest first, two at a time
        while True:
            rows, _, after = await views.statement(conn, code, after=after, limit=2)
            pages.append([r["seq"] for r in rows])
            if after is None:
                break
        assert pages == [[5, 4], [3, 2], [1]]

        # a hot account (striped: every card payment at the station credits it) runs its balance in entry order
        hot = f"clearing:stored_value:{ST}"
        rows, total, _ = await views.statement(conn, hot, order="oldest")
        assert [(r["reference"], r["amount"], r["balance_after"]) for r in rows] == [
            ("P1", -3000, -3000), ("P2", -2000, -5000), ("R1", 500, -4500)]
        later, _, _ = await views.statement(conn, hot, since=first, order="newest")
        assert [r["balance_after"] for r in later] == [-4500, -5000]
        assert await views.period(conn, hot, since=first, until=second) == {
            "opening": -3000, "closing": -4500, "debits": 500, "credits": 2000}
        assert await views.balance(conn, hot) == -4500 and await views.balance(conn, code) == 6600
        stripes = await (await conn.execute("SELECT count(*) FROM business.ledger_stripes WHERE account = %s",
                                            (hot,))).fetchone()
        assert stripes == (1,)          # one connection wrote them all: one stripe


def test_the_api_shows_a_statement_to_whom_it_may(database_url: str) -> None:
    first, second = asyncio.run(three_periods(database_url))
    with TestClient(create_app(database_url, tokens=TEST_TOKENS)) as http:
        finance = headers(TEST_TOKENS, "ledger:read", "card:read", "member:read")
        url = f"/api/v1/ledger/accounts/card:{CARD}"
        answer = http.get(url, params={"since": first.isoformat(), "until": second.isoformat(), "order": "oldest",
                                       "limit": 1}, headers=finance)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert (body["opening"], body["closing"], body["debits"], body["credits"], body["total"]) == \
            (7000, 5500, 2000, 500, 2)
        assert [(p["reference"], p["balance_after"]) for p in body["items"]] == [("P2", 5000)]
        rest = http.get(url, params={"since": first.isoformat(), "until": second.isoformat(), "order": "oldest",
                                     "cursor": body["next_cursor"]}, headers=finance).json()
        assert [(p["reference"], p["balance_after"]) for p in rest["items"]] == [("R1", 5500)]
        # card numbers masked without pii:read, whole with it
        assert body["account"]["code"] == "card:6225********5678" and CARD not in answer.text
        whole = http.get(url, headers=headers(TEST_TOKENS, "ledger:read", "card:read", "pii:read")).json()
        assert whole["account"]["code"] == f"card:{CARD}" and whole["items"][-1]["memo"] == f"{CARD} 充 10000 送 0"

        # a customer's account needs card:read (cards) or member:read (points), whatever the caller's stations
        assert http.get(url, headers=headers(TEST_TOKENS, "ledger:read")).status_code == 403
        assert http.get(f"/api/v1/ledger/accounts/points:{MEMBER}",
                        headers=headers(TEST_TOKENS, "ledger:read", "card:read")).status_code == 403
        points = http.get(f"/api/v1/ledger/accounts/points:{MEMBER}",
                          headers=headers(TEST_TOKENS, "ledger:read", "member:read", stations=frozenset({"st-09"})))
        assert points.status_code == 200 and points.json()["closing"] == 120
        # a station's account to that station's users only; company accounts to company scope
        clearing = f"/api/v1/ledger/accounts/clearing:stored_value:{ST}"
        assert http.get(clearing, headers=headers(TEST_TOKENS, "ledger:read", stations=frozenset({ST}))).json()[
            "closing"] == -4500
        assert http.get(clearing, headers=headers(TEST_TOKENS, "ledger:read",
                                                  stations=frozenset({"st-09"}))).status_code == 404
        assert http.get("/api/v1/ledger/accounts/marketing:recharge-bonus",
                        headers=headers(TEST_TOKENS, "ledger:read", stations=frozenset({ST}))).status_code == 404
        # the company's account list leaves customers' accounts out
        listed = http.get("/api/v1/ledger/accounts", headers=finance).json()
        assert [a["code"] for a in listed["items"]] == [
            f"clearing:stored_value:{ST}", f"clearing:wechat:{ST}", f"drawer:{ST}:{SHIFT}", "marketing:recharge-bonus",
            "points:issued"]
        bad = http.get(url, params={"since": second.isoformat(), "until": first.isoformat()}, headers=finance)
        assert bad.status_code == 422 and "结束时间" in bad.text
        assert http.get(url, params={"order": "sideways"}, headers=finance).status_code == 422


async def test_a_statement_exports_to_excel_in_yuan_with_card_numbers_masked(database_url: str) -> None:
    await three_periods(database_url)
    hot = f"clearing:stored_value:{ST}"
    async with served_api(database_url) as (app, http):
        owner = bearer(app, "export:create", "ledger:read", username="li.si")
        request = {"kind": "ledger_statement", "filters": {"code": hot}, "request_id": "statement-1"}
        started = await http.post("/api/v1/exports", json=request, headers=owner)
        assert started.status_code == 202, started.text
        job = started.json()["id"]

        async def finished() -> bool:
            return (await http.get(f"/api/v1/exports/{job}", headers=owner)).json()["status"] != "running"
        await wait_for(finished)
        file = await http.get(f"/api/v1/exports/{job}/file", headers=owner)
        assert file.status_code == 200
        customer = await http.post("/api/v1/exports", json={"kind": "ledger_statement", "filters": {
            "code": f"card:{CARD}"}, "request_id": "statement-2"}, headers=owner)
        assert customer.status_code == 422 and "客户账户" in customer.text
        elsewhere = bearer(app, "export:create", "ledger:read", stations=frozenset({"st-09"}), username="wang.wu")
        other = await http.post("/api/v1/exports", json={**request, "request_id": "statement-3"}, headers=elsewhere)
        assert other.status_code == 202

    rows = list(openpyxl.load_workbook(io.BytesIO(file.content), read_only=True).worksheets[0].iter_rows(
        values_only=True))
    assert rows[0] == ("序号", "记账时间", "发生时间", "类型", "单据号", "站点", "摘要", "借方", "贷方", "余额")
    assert [(r[4], r[6], r[7], r[8], r[9]) for r in rows[1:]] == [
        ("P1", "6225********5678", None, 30, -30), ("P2", "6225********5678", None, 20, -50),
        ("R1", "6225********5678", 5, None, -45)]
