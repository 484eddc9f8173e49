"""The bank link (银企直连) end to end with simulators/bank (business_services/fleets/bank.py): a month of credit
sales makes a statement and the enterprise's transfer, pushed by the bank with the statement number in its memo,
is matched to it once however often it is notified; a lost notification is found by the poll; a forged one is
refused; payer + exact amount matches without a memo; the rest waits for a person; ageing and dunning."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

import psycopg
import pytest

from business_services.cards.model import CHINA
from business_services.fleets import receivables, statements
from control_api.app import create_app
from simulators.bank.server import signed_headers
from tests.integration.fleets.settle_support import (
    bank_for,
    billed_month,
    client,
    sale,
    scalar,
    settler,
    transfer,
)
from tests.support.fleets import make_card, make_enterprise

pytestmark = pytest.mark.integration

NOW = datetime(2026, 12, 5, 10, 0, tzinfo=CHINA)
PAYER = "6212260200001234"


async def _receivable(url: str, code: str) -> int:
    return int(await scalar(url, "SELECT coalesce(sum(balance), 0) FROM business.ledger_balances WHERE code = %s",
                            f"receivable:fleet:{code}"))


async def test_a_transfer_from_the_bank_is_matched_to_the_months_statement_once(database_url: str) -> None:
    code, number, total = await billed_month(database_url)
    assert await _receivable(database_url, code) == total
    app = create_app(database_url)
    zhao = settler(app)
    async with client(app) as http, bank_for(app) as (sim, bank):
        await transfer(bank, total, memo=f"十一月油款 {number}", notify="twice")   # a duplicate notification
        assert [n["status"] for n in sim.notifications] == [200, 200]
        detail = (await http.get(f"/api/v1/fleet-statements/{number}", headers=zhao)).json()
        assert detail["paid_fen"] == total and detail["payment"] == "paid" and detail["outstanding_fen"] == 0
        assert [(s["amount_fen"], s["how"]) for s in detail["settlements"]] == [(total, "memo")]
        polled = await http.post("/api/v1/bank-transfers/poll", headers=zhao)   # the poll finds it again: no news
        assert polled.status_code == 200 and polled.json() == {"new": 0}
    assert await _receivable(database_url, code) == 0
    assert await scalar(database_url, "SELECT count(*) FROM business.ledger_entries WHERE kind = 'bank.received'") == 1
    assert await scalar(database_url, "SELECT balance FROM business.ledger_balances WHERE code = 'bank:unmatched'") == 0


async def test_a_lost_notification_is_found_by_the_poll_and_a_failing_bank_is_asked_again(database_url: str) -> None:
    code, number, total = await billed_month(database_url)
    app = create_app(database_url)
    zhao = settler(app)
    async with client(app) as http, bank_for(app) as (sim, bank):
        await transfer(bank, 10_000, memo=f"部分付款{number}", notify="never")
        assert sim.notifications == []
        await bank.post("/_sim/faults", json={"query_fail_next": 1})
        failed = await http.post("/api/v1/bank-transfers/poll", headers=zhao)
        assert failed.status_code == 502 and "稍后重试" in failed.json()["detail"]
        assert (await http.post("/api/v1/bank-transfers/poll", headers=zhao)).json() == {"new": 1}
        assert (await http.post("/api/v1/bank-transfers/poll", headers=zhao)).json() == {"new": 0}
        detail = (await http.get(f"/api/v1/fleet-statements/{number}", headers=zhao)).json()
        assert detail["paid_fen"] == 10_000 and detail["payment"] == "partly"
    assert await _receivable(database_url, code) == total - 10_000


async def test_a_forged_or_malformed_notification_is_refused_and_records_nothing(database_url: str) -> None:
    app = create_app(database_url)
    async with client(app) as http, bank_for(app) as (sim, _):
        record = {"serial_no": "202612050000000099", "account_no": sim.keys.account_no, "direction": "C",
                  "amount": "100.00", "currency": "CNY", "payer_account": PAYER, "payer_name": "x", "memo": "",
                  "booked_at": "2026-12-05T10:00:00+08:00"}
        body = json.dumps({"notify_id": "n1", "event": "transaction.credit", "record": record}).encode()
        forged = signed_headers(sim.keys.client_id, "not-the-secret", body)
        answer = await http.post("/api/v1/bank/notifications", content=body, headers=forged)
        assert answer.status_code == 401 and answer.json()["code"] == "FAIL"
        good = signed_headers(sim.keys.client_id, sim.keys.secret, body)
        tampered = body.replace(b"100.00", b"900.00")
        assert (await http.post("/api/v1/bank/notifications", content=tampered, headers=good)).status_code == 401
        stale = signed_headers(sim.keys.client_id, sim.keys.secret, body, now=1_000_000_000)
        assert (await http.post("/api/v1/bank/notifications", content=body, headers=stale)).status_code == 401
        bad = json.dumps({"notify_id": "n2", "record": {**record, "amount": "1.234"}}).encode()
        malformed = await http.post("/api/v1/bank/notifications", content=bad,
                                    headers=signed_headers(sim.keys.client_id, sim.keys.secret, bad))
        assert malformed.status_code == 400 and "两位小数" in malformed.json()["msg"]
    assert await scalar(database_url, "SELECT count(*) FROM business.bank_transfers") == 0


async def test_payer_and_amount_match_out_of_order_and_the_rest_waits_for_a_person(database_url: str) -> None:
    code, november, total = await billed_month(database_url, month=10)   # October's sales, billed on 1 November
    _, december, total2 = await billed_month(database_url, month=11, code=code)
    app = create_app(database_url)
    zhao = settler(app)
    async with client(app) as http, bank_for(app) as (sim, bank):
        known = await http.post("/api/v1/fleet-payer-accounts", headers=zhao,
                                json={"account_no": PAYER, "enterprise": code})
        assert known.status_code == 201
        again = await http.post("/api/v1/fleet-payer-accounts", headers=zhao, json={"account_no": PAYER,
                                                                                    "enterprise": code})
        assert again.status_code == 201                                  # a retry: no change
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            other = await make_enterprise(conn, name="别家")
        taken = await http.post("/api/v1/fleet-payer-accounts", headers=zhao, json={"account_no": PAYER,
                                                                                    "enterprise": other})
        assert taken.status_code == 409 and "其他企业" in taken.json()["detail"]
        await transfer(bank, total2, memo="货款", hold=True)            # no statement number: payer + exact amount
        await transfer(bank, total, memo=f"{november}", hold=True)
        await bank.post("/_sim/release")                                # the bank pushes them newest first
        assert [n["serial_no"] for n in sim.notifications] == sorted((n["serial_no"] for n in sim.notifications),
                                                                     reverse=True)
        first = (await http.get(f"/api/v1/fleet-statements/{november}", headers=zhao)).json()
        second = (await http.get(f"/api/v1/fleet-statements/{december}", headers=zhao)).json()
        assert (first["payment"], second["payment"]) == ("paid", "paid")
        assert second["settlements"][0]["how"] == "payer"
        stray = await transfer(bank, 12_345, memo="不知道付什么", payer_account="6228480000000001")
        queue = (await http.get("/api/v1/bank-transfers", params={"unmatched": "true"}, headers=zhao)).json()["items"]
        assert [t["transfer_no"] for t in queue] == [stray["serial_no"]]
        station_user = settler(app, stations=frozenset({"demo-01"}))
        assert (await http.get("/api/v1/bank-transfers", headers=station_user)).status_code == 403   # head office's
        masked = (await http.get("/api/v1/bank-transfers", headers=settler(app, permissions=("fleet:read",)))).json()
        assert all(t["payer_account"].startswith("****") for t in masked["items"])
        paid_up = await http.post(f"/api/v1/bank-transfers/{stray['serial_no']}/matches", headers=zhao,
                                  json={"statement_no": december, "amount_fen": 100})
        assert paid_up.status_code == 409 and "未付金额" in paid_up.json()["detail"]   # december is paid
    assert await _receivable(database_url, code) == 0
    assert await scalar(database_url, "SELECT balance FROM business.ledger_balances WHERE code = 'bank:unmatched'") \
        == 12_345


async def test_manual_match_ageing_and_dunning(database_url: str) -> None:
    code, number, total = await billed_month(database_url)                 # due 11 December
    app = create_app(database_url)
    zhao = settler(app)
    async with client(app) as http, bank_for(app) as (_, bank):
        stray = await transfer(bank, 30_000, memo="转账", payer_account="6228480000000002")
        too_much = await http.post(f"/api/v1/bank-transfers/{stray['serial_no']}/matches", headers=zhao,
                                   json={"statement_no": number, "amount_fen": 30_001})
        assert too_much.status_code == 409
        matched = await http.post(f"/api/v1/bank-transfers/{stray['serial_no']}/matches", headers=zhao,
                                  json={"statement_no": number, "amount_fen": 30_000})
        assert matched.status_code == 201, matched.text
        twice = await http.post(f"/api/v1/bank-transfers/{stray['serial_no']}/matches", headers=zhao,
                                json={"statement_no": number, "amount_fen": 1})
        assert twice.status_code == 409
        ages: Any = (await http.get("/api/v1/fleet-receivables", headers=zhao)).json()["items"]
        row = next(r for r in ages if r["enterprise"] == code)
        assert row["receivable_fen"] == total - 30_000 and row["billed_fen"] == total - 30_000
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        assert await receivables.dun(conn, date(2026, 12, 11)) == 0     # due today: not overdue yet
        assert await receivables.dun(conn, date(2026, 12, 12)) == 1     # a day overdue: level 1
        assert await receivables.dun(conn, date(2026, 12, 20)) == 0     # level 2 waits for 15 days
        assert await receivables.dun(conn, date(2027, 1, 20)) == 1      # 40 days: one notice, of the level reached (3)
        aged = {r["enterprise"]: r for r in await receivables.ageing(conn, date(2027, 2, 1))}[code]
        assert aged["31-60"] == total - 30_000 and aged["0-30"] == 0
    notices = await scalar(database_url, "SELECT array_agg(level ORDER BY id) FROM business.fleet_dunning_notices")
    assert notices == [1, 3]
    text = await scalar(database_url, "SELECT text FROM business.fleet_dunning_notices WHERE level = 1")
    assert number in text and "逾期 1 天" in text
    async with client(app) as http:
        masked = (await http.get("/api/v1/fleet-dunning-notices",
                                 headers=settler(app, permissions=("fleet:read",)))).json()["items"]
        assert masked[0]["contact_phone"] == "138****8000"


async def test_a_transfer_naming_a_statement_before_it_is_issued_pays_it_when_it_is(database_url: str) -> None:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        code = await make_enterprise(conn, statement_day=1)
        card = await make_card(conn, code, serial=1)
        await sale(conn, code, card, 88_800, datetime(2026, 11, 20, 9, tzinfo=CHINA))
    number = f"FS{code[1:]}-20261201"
    app = create_app(database_url)
    async with client(app) as http, bank_for(app) as (_, bank):
        await transfer(bank, 88_800, memo=f"预付 {number.lower()}")     # the enterprise pays before the statement
        assert await scalar(database_url, "SELECT matched_fen FROM business.bank_transfers") == 0
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            assert await statements.issue_due(conn, datetime(2026, 12, 2, tzinfo=CHINA)) == 1
        detail = (await http.get(f"/api/v1/fleet-statements/{number}", headers=settler(app))).json()
        assert detail["payment"] == "paid" and detail["settlements"][0]["how"] == "memo"
    assert await _receivable(database_url, code) == 0
