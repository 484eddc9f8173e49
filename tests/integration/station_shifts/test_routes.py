"""The station-shifts API at head office: the list (filters, keyset pages, the caller's stations), one shift
with the station's report beside what head office received, and reconciling one now."""

from __future__ import annotations

import base64
from datetime import timedelta

import psycopg
import pytest
from fastapi.testclient import TestClient

from control_api.app import create_app
from forecourt.roles import Role
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.events.payments import Method
from tests.integration.station_shifts.support import STATION, Shift, deliver, head_office, rows
from tests.support.auth import TEST_TOKENS, headers

pytestmark = pytest.mark.integration

LIST = "/api/v1/station-shifts"
FINANCE = headers(TEST_TOKENS, "report:read", "shift:reconcile", username="finance")
READER = headers(TEST_TOKENS, "report:read", username="regional")
SCOPED = headers(TEST_TOKENS, "report:read", "shift:reconcile", stations=frozenset({STATION}), username="manager")
OTHER = "st-02"


def other_station_shift() -> Shift:
    """A shift of another station: the same helper, its events moved to st-02."""
    return Shift(9, opened_at=Shift(1).opened_at + timedelta(hours=1))


async def test_list_detail_and_reconcile(database_url: str, broker: BrokerAddress) -> None:
    consumer = head_office(database_url, broker)
    first, second = Shift(1), Shift(2, opened_at=Shift(1).opened_at + timedelta(hours=8))
    first.pay(Method.CASH, 29000)
    first.refund(first.pay(Method.WECHAT, 15000), 1000)
    missing = second.pay(Method.ALIPAY, 4200)
    second.pay(Method.CASH, 800)
    elsewhere = other_station_shift()
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        for payload in [*first.events(), *second.events()]:
            if payload is not missing:
                await deliver(consumer, conn, payload)
        opened = elsewhere.opened().model_copy(update={"station": OTHER, "shift_no": "st-02-20261204-S00009"})
        event = opened.envelope(source=f"station:{OTHER}", event_id=opened.event_id())
        await consumer.handle(conn, f"forecourt/v1/g/{OTHER}/events/{event.type}", event.to_bytes())

    with TestClient(create_app(database_url, tokens=TEST_TOKENS)) as http:
        page = http.get(LIST, params={"limit": 2}, headers=READER).json()
        assert page["total"] == 3
        rest = http.get(LIST, params={"limit": 2, "cursor": page["next_cursor"]}, headers=READER).json()
        assert rest["next_cursor"] is None
        assert [(s["station"], s["shift_no"]) for s in page["items"] + rest["items"]] == [
            (STATION, second.shift_no), (OTHER, "st-02-20261204-S00009"), (STATION, first.shift_no)]   # newest first
        assert {s["status"] for s in page["items"] + rest["items"]} == {"unchecked"}
        window = http.get(LIST, params={"from": "2026-12-04T08:00:00Z", "to": "2026-12-05T00:00:00Z"},
                          headers=READER).json()
        assert [s["shift_no"] for s in window["items"]] == [second.shift_no]
        everything = http.get(LIST, params={"station": "", "status": "", "from": "", "to": ""}, headers=READER)
        assert everything.json()["total"] == 3                                  # an empty filter is no filter

        url = f"{LIST}/{STATION}/{second.shift_no}/reconcile"
        assert http.post(url, headers=READER).status_code == 403                   # report:read is not enough
        done = http.post(url, headers=FINANCE)
        assert done.status_code == 200, done.text
        shift = done.json()
        assert shift["status"] == "difference"
        assert shift["gaps"] == [{"method": "alipay", "reported_fen": 4200, "received_fen": 0,
                                  "difference_fen": -4200}]
        assert {m["method"]: (m["reported_net_fen"], m["received_net_fen"], m["received_payments"])
                for m in shift["methods"]} == {"alipay": (4200, 0, 0), "cash": (800, 800, 1)}
        assert [h["status"] for h in shift["history"]] == ["difference"]
        assert http.post(url, headers=FINANCE).json()["history"] == shift["history"]      # repeating changes nothing
        assert [s["shift_no"] for s in http.get(LIST, params={"status": "difference"}, headers=READER).json()[
            "items"]] == [second.shift_no]

        detail = http.get(f"{LIST}/{STATION}/{first.shift_no}", headers=SCOPED).json()
        assert {m["method"]: (m["reported_captured_fen"], m["reported_refunded_fen"], m["received_net_fen"],
                              m["received_refunds"]) for m in detail["methods"]} == {
            "cash": (29000, 0, 29000, 0), "wechat": (15000, 1000, 14000, 1)}
        assert (detail["closed_by"], detail["sales_fen"], detail["status"]) == ("李四", 44000, "unchecked")

        scoped = http.get(LIST, headers=SCOPED).json()
        assert {s["station"] for s in scoped["items"]} == {STATION} and scoped["total"] == 2
        assert http.get(LIST, params={"station": OTHER}, headers=SCOPED).status_code == 403
        assert http.get(f"{LIST}/{OTHER}/st-02-20261204-S00009", headers=SCOPED).status_code == 403
        assert http.post(f"{LIST}/{OTHER}/st-02-20261204-S00009/reconcile", headers=SCOPED).status_code == 403
        assert http.get(f"{LIST}/{OTHER}/st-02-20261204-S00009", headers=READER).json()["status"] == "unchecked"

        nothing = http.post(f"{LIST}/{STATION}/{STATION}-20261204-S00077/reconcile", headers=FINANCE)
        assert nothing.status_code == 404 and "总部没有班次" in nothing.json()["detail"]
        assert http.get(f"{LIST}/{STATION}/{STATION}-20261204-S00077", headers=READER).status_code == 404
        for bad in [{"cursor": "bad!"}, {"from": "2026-12-04T08:00:00"}, {"status": "lost"}, {"station": "ST 1"},
                    {"to": "yesterday"}, *[{"cursor": base64.urlsafe_b64encode(forged.encode()).decode()} for forged in
                                          ["k:2026-12-04T00:00:00+00:00|st\x00|st-01-20261204-S00001",
                                           "k:2026-12-04T00:00:00|st-01|st-01-20261204-S00001", "k:x|y"]]]:
            answer = http.get(LIST, params=bad, headers=READER)
            assert answer.status_code == 422, (bad, answer.text)
        assert http.get(LIST).status_code == 401

    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        audited = await rows(conn, "SELECT actor, target FROM business.audit_log WHERE action = 'shift.difference'")
        assert audited == [("finance", f"{STATION}/{second.shift_no}")]


def test_a_station_server_does_not_reconcile(station_database_url: str) -> None:
    with TestClient(create_app(station_database_url, tokens=TEST_TOKENS, role=Role.STATION)) as http:
        answer = http.post(f"{LIST}/{STATION}/{STATION}-20261204-S00001/reconcile", headers=FINANCE)
        assert answer.status_code == 409 and "总部" in answer.json()["detail"]
