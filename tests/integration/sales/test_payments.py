"""Payments through the station server's real API (uvicorn) and PostgreSQL: split and merged payments settle
their orders, one Idempotency-Key charges once, racing payments and refunds never exceed what is owed or
captured, big refunds wait for approval, and a pending online payment settles exactly once."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import psycopg
import pytest

from business_services.approvals import handlers as approvals
from business_services.approvals.model import Approver, NotAllowed
from business_services.bootstrap import build_bus
from business_services.payments import service
from business_services.payments.model import TakePayment, Tender
from business_services.payments.offline import OfflineTender
from business_services.payments.providers import ChargeRequest, ChargeResult, ChargeState, RefundRequest, RefundResult
from business_services.payments.registry import Providers
from business_services.unit_of_work import UnitOfWork
from forecourt.roles import Role, policy
from telemetry.contracts.events.payments import Method
from tests.integration.sales.payments_support import (
    MANAGER,
    STATION,
    add_orders,
    cash,
    cashier,
    manager,
    open_shift,
    scalar,
    station_api,
)
from tests.support.api_client import served_api

# bursts of requests at once: alone, so that the API pool's 2 s wait is their own
pytestmark = [pytest.mark.integration, pytest.mark.serial]
PAYMENTS = f"/api/v1/stations/{STATION}/payments"


def key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


async def paid(url: str, order_no: str) -> tuple[int, str]:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        row = await (await conn.execute("SELECT paid_fen, status FROM business.orders WHERE order_no = %s",
                                        (order_no,))).fetchone()
    assert row is not None
    return int(row[0]), str(row[1])


async def outbox(url: str, event_type: str) -> int:
    return int(str(await scalar(url, "SELECT count(*) FROM business.outbox WHERE topic LIKE %s", f"%/{event_type}")))


async def test_split_and_merged_payments_settle_their_orders(station_database_url: str) -> None:
    url = station_database_url
    await open_shift(url)
    split, *merged = await add_orders(url, 10000, 3000, 2500, 1234)
    async with station_api(url) as (app, http):
        auth = cashier(app)
        refused = await http.post(PAYMENTS, headers={**auth, **key()}, json={"terminal": "pos-1", "order_nos": [split],
                                  "tenders": [cash(6000), {"method": "bank_card", "amount_fen": 4000}]})
        assert refused.status_code == 422 and "参考号" in refused.json()["detail"]      # no voucher number
        assert await scalar(url, "SELECT count(*) FROM business.payments") == 0

        answer = await http.post(PAYMENTS, headers={**auth, **key()}, json={
            "terminal": "pos-1", "order_nos": [split],
            "tenders": [cash(6000), {"method": "bank_card", "amount_fen": 4000, "reference": "880012"}]})
        assert answer.status_code == 200, answer.text
        payments = answer.json()["payments"]
        assert [(p["method"], p["amount_fen"], p["state"]) for p in payments] == [
            ("cash", 6000, "succeeded"), ("bank_card", 4000, "succeeded")]
        assert payments[1]["provider_ref"] == "880012"
        assert await paid(url, split) == (10000, "paid")

        answer = await http.post(PAYMENTS, headers={**auth, **key()},
                                 json={"terminal": "pos-1", "order_nos": merged, "tenders": [cash(6734)]})
        assert answer.status_code == 200, answer.text
        [payment] = answer.json()["payments"]
        assert [(a["order_no"], a["amount_fen"]) for a in payment["allocations"]] == list(
            zip(merged, [3000, 2500, 1234], strict=True))
        assert [await paid(url, o) for o in merged] == [(3000, "paid"), (2500, "paid"), (1234, "paid")]
        assert await outbox(url, "payment.captured") == 3

        again = await http.post(PAYMENTS, headers={**auth, **key()},
                                json={"terminal": "pos-1", "order_nos": [split], "tenders": [cash(1)]})
        assert again.status_code == 409 and again.json()["title"] == "冲突"            # nothing left to pay

        listed = (await http.get(PAYMENTS, headers=auth, params={"method": "cash", "limit": 1})).json()
        assert listed["total"] == 2 and len(listed["items"]) == 1 and listed["next_cursor"]
        methods = {m["method"]: m for m in (await http.get(f"{PAYMENTS}/methods", headers=auth)).json()["items"]}
        assert methods["cash"]["available"] and methods["cash"]["safe_offline"]
        assert not methods["wechat"]["available"] and "尚未开通" in methods["wechat"]["reason"]


async def test_a_payment_needs_an_open_shift(station_database_url: str) -> None:
    [order_no] = await add_orders(station_database_url, 5000)
    async with station_api(station_database_url) as (app, http):
        answer = await http.post(PAYMENTS, headers={**cashier(app), **key()},
                                 json={"terminal": "pos-1", "order_nos": [order_no], "tenders": [cash(5000)]})
    assert answer.status_code == 409 and "请先开班" in answer.json()["detail"]


class CountingCash(OfflineTender):
    """Cash that counts its charges (the test's window on "charged once")."""

    def __init__(self) -> None:
        super().__init__(Method.CASH)
        self.charges = 0

    async def charge(self, request: ChargeRequest) -> ChargeResult:
        self.charges += 1
        return await super().charge(request)


async def _final(http: httpx.AsyncClient, headers: dict[str, str], body: dict[str, Any]) -> httpx.Response:
    """POST, retrying as a POS does with the same key: while the first request with it is still running (409 in
    progress), and after ``Retry-After`` when the server shed the request (503: its pool had no connection free in
    time, which fifty requests at once on a loaded machine can cause)."""
    deadline = time.monotonic() + 30
    while True:
        answer = await http.post(PAYMENTS, headers=headers, json=body)
        if answer.status_code not in (409, 503) or time.monotonic() > deadline:
            return answer
        await asyncio.sleep(float(answer.headers["Retry-After"]) if answer.status_code == 503 else 0.02)


async def test_fifty_concurrent_requests_with_one_key_charge_once(station_database_url: str) -> None:
    url = station_database_url
    await open_shift(url)
    [order_no] = await add_orders(url, 8800)
    counting = CountingCash()
    async with station_api(url, online=[counting]) as (app, http):
        headers = {**cashier(app), "Idempotency-Key": "pos-1-sale-000042"}
        body = {"terminal": "pos-1", "order_nos": [order_no], "tenders": [cash(8800)]}
        answers = await asyncio.gather(*[_final(http, headers, body) for _ in range(50)])
    assert {a.status_code for a in answers} == {200}
    first = answers[0].json()
    assert all(a.json() == first for a in answers)                              # all answers equal
    assert sum(a.headers.get("Idempotent-Replayed") == "true" for a in answers) == 49
    assert counting.charges == 1
    assert await scalar(url, "SELECT count(*) FROM business.payments") == 1
    assert await paid(url, order_no) == (8800, "paid")


async def test_racing_payments_cannot_exceed_an_order_nor_take_one_another_terminal_holds(
        station_database_url: str) -> None:
    url = station_database_url
    await open_shift(url)
    order_no, held = await add_orders(url, 10000, 5000)
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute("UPDATE business.orders SET locked_by = 'pos-2', locked_until = now() + interval '1 min' "
                           "WHERE order_no = %s", (held,))
    async with station_api(url) as (app, http):
        auth = cashier(app)
        body = {"terminal": "pos-1", "order_nos": [order_no], "tenders": [cash(4000)]}
        answers = await asyncio.gather(*[http.post(PAYMENTS, headers={**auth, **key()}, json=body)
                                         for _ in range(10)])
        taken = await http.post(PAYMENTS, headers={**auth, **key()},
                                json={"terminal": "pos-1", "order_nos": [held], "tenders": [cash(5000)]})
    assert sorted(a.status_code for a in answers) == [200, 200] + [409] * 8
    assert await paid(url, order_no) == (8000, "payable")
    assert taken.status_code == 409 and "pos-2" in taken.json()["detail"]
    assert await paid(url, held) == (0, "payable")


async def _captured(http: httpx.AsyncClient, headers: dict[str, str], order_no: str, fen: int) -> str:
    answer = await http.post(PAYMENTS, headers={**headers, **key()},
                             json={"terminal": "pos-1", "order_nos": [order_no], "tenders": [cash(fen)]})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["payments"][0]["payment_no"])


async def test_concurrent_refunds_never_exceed_the_capture(station_database_url: str) -> None:
    url = station_database_url
    await open_shift(url)
    [order_no] = await add_orders(url, 10000)
    async with station_api(url) as (app, http):
        payment_no = await _captured(http, cashier(app), order_no, 10000)
        refunds = await asyncio.gather(*[
            http.post(f"{PAYMENTS}/{payment_no}/refunds", headers={**manager(app), **key()},
                      json={"amount_fen": 3000, "reason": "油品投诉"}) for _ in range(20)])
        denied = await http.post(f"{PAYMENTS}/{payment_no}/refunds", headers={**cashier(app), **key()},
                                 json={"amount_fen": 100, "reason": "x"})
    assert sorted(r.status_code for r in refunds) == [200] * 3 + [409] * 17
    assert {r.json()["state"] for r in refunds if r.status_code == 200} == {"succeeded"}
    assert denied.status_code == 403                                           # a cashier may not refund
    assert await scalar(url, "SELECT refunded_fen FROM business.payments") == 9000
    assert await paid(url, order_no) == (1000, "payable")
    assert await outbox(url, "payment.refunded") == 3
    assert await scalar(url, "SELECT count(*) FROM business.audit_log WHERE action = 'payment.refund.execute'") == 3


async def test_a_refund_above_the_limit_waits_for_approval(station_database_url: str) -> None:
    url = station_database_url
    await open_shift(url)
    order_no, second = await add_orders(url, 30000, 40000)
    async with station_api(url) as (app, http):
        payment_no = await _captured(http, cashier(app), order_no, 30000)
        asked = await http.post(f"{PAYMENTS}/{payment_no}/refunds", headers={**manager(app), **key()},
                                json={"amount_fen": 25000, "reason": "多收"})
        assert asked.status_code == 200, asked.text
        refund = asked.json()
        assert refund["state"] == "awaiting_approval" and refund["approval_id"]
        assert await paid(url, order_no) == (30000, "paid")                   # nothing went back yet
        for who in (Approver("manager", frozenset({"approval:decide"}), None),            # the requester
                    Approver("cashier", frozenset({"payment:refund"}), frozenset({STATION}))):
            with pytest.raises(NotAllowed):
                async with (await psycopg.AsyncConnection.connect(url, autocommit=True) as conn,
                            UnitOfWork(conn, MANAGER) as uow):
                    await approvals.approve(uow, uuid.UUID(refund["approval_id"]), who)
        async with (await psycopg.AsyncConnection.connect(url, autocommit=True) as conn,
                    UnitOfWork(conn, MANAGER) as uow):
            await approvals.approve(uow, uuid.UUID(refund["approval_id"]),
                                    Approver("area", frozenset({"approval:decide"}), None))
        looked = await http.get(f"{PAYMENTS}/{payment_no}", headers=cashier(app))
        assert looked.json()["refunded_fen"] == 25000
        assert [r["state"] for r in looked.json()["refunds"]] == ["succeeded"]
        assert await paid(url, order_no) == (5000, "payable")

        other = await _captured(http, cashier(app), second, 40000)
        asked = await http.post(f"{PAYMENTS}/{other}/refunds", headers={**manager(app), **key()},
                                json={"amount_fen": 30000, "reason": "多收"})
        async with (await psycopg.AsyncConnection.connect(url, autocommit=True) as conn,
                    UnitOfWork(conn, MANAGER) as uow):
            await approvals.reject(uow, uuid.UUID(asked.json()["approval_id"]),
                                   Approver("area", frozenset({"approval:decide"}), None), "不符合退款规定")
        looked = (await http.get(f"{PAYMENTS}/{other}", headers=cashier(app))).json()
    assert (looked["refunded_fen"], [r["state"] for r in looked["refunds"]]) == (0, ["rejected"])
    assert await paid(url, second) == (40000, "paid")
    actions = await scalar(url, "SELECT string_agg(action, ',' ORDER BY seq) FROM business.audit_log")
    assert "payment.refund.request" in str(actions) and "payment.refund.execute" in str(actions)


class QrProvider:
    """An online method in this test only: PENDING (a QR shown) until the customer pays, then SUCCEEDED."""

    method = Method.WECHAT
    safe_offline = False

    def __init__(self) -> None:
        self.customer_paid = False
        self.queries = 0

    def unavailable(self) -> str | None:
        return None

    async def charge(self, request: ChargeRequest) -> ChargeResult:
        return ChargeResult(ChargeState.PENDING, qr_code_url=f"weixin://wxpay/bizpayurl?pr={request.payment_no}")

    async def query(self, payment_no: str) -> ChargeResult:
        self.queries += 1
        if self.customer_paid:
            return ChargeResult(ChargeState.SUCCEEDED, provider_ref=f"wx-{payment_no}")
        return ChargeResult(ChargeState.PENDING)

    async def cancel(self, payment_no: str) -> ChargeResult:
        if self.customer_paid:
            return await self.query(payment_no)
        return ChargeResult(ChargeState.FAILED, message="已关单")

    async def refund(self, request: RefundRequest) -> RefundResult:
        return RefundResult(ChargeState.SUCCEEDED)


async def test_a_pending_online_payment_settles_once(station_database_url: str) -> None:
    url = station_database_url
    await open_shift(url)
    first, second, third = await add_orders(url, 5000, 6000, 7000)
    qr = QrProvider()
    async with station_api(url, online=[qr]) as (app, http):
        auth = cashier(app)

        async def pay(order_no: str, fen: int) -> dict[str, Any]:
            answer = await http.post(PAYMENTS, headers={**auth, **key()}, json={
                "terminal": "pos-1", "order_nos": [order_no], "tenders": [{"method": "wechat", "amount_fen": fen}]})
            assert answer.status_code == 200, answer.text
            return dict(answer.json()["payments"][0])

        shown = await pay(first, 5000)
        assert shown["state"] == "pending" and shown["qr_code_url"].startswith("weixin://")
        no = shown["payment_no"]
        assert (await http.get(f"{PAYMENTS}/{no}", headers=auth)).json()["state"] == "pending"
        qr.customer_paid = True
        looks = await asyncio.gather(*[http.get(f"{PAYMENTS}/{no}", headers=auth) for _ in range(5)],
                                     http.post(f"{PAYMENTS}/{no}/cancel", headers=auth))
        assert {a.json()["state"] for a in looks} == {"succeeded"}
        assert await paid(url, first) == (5000, "paid")
        assert await outbox(url, "payment.captured") == 1

        late = await pay(second, 6000)                        # the countdown ran out, but the customer paid
        cancelled = await http.post(f"{PAYMENTS}/{late['payment_no']}/cancel", headers=auth)
        assert cancelled.json()["state"] == "succeeded"
        assert await paid(url, second) == (6000, "paid")

        qr.customer_paid = False
        gave_up = await pay(third, 7000)
        closed = await http.post(f"{PAYMENTS}/{gave_up['payment_no']}/cancel", headers=auth)
        assert closed.json()["state"] == "cancelled"
        assert await paid(url, third) == (0, "payable")
        again = await pay(third, 7000)                        # the reservation went with the cancel
        assert again["state"] == "pending"
    assert await outbox(url, "payment.captured") == 2


class CrashAfterCharge(QrProvider):
    """Takes the money, then the process dies before it records it (the provider knows; we do not)."""

    async def charge(self, request: ChargeRequest) -> ChargeResult:
        self.customer_paid = True
        raise ConnectionResetError("the station server went down")


async def test_a_provider_failing_between_charge_and_mark_leaves_it_pending_until_asked(
        station_database_url: str) -> None:
    url = station_database_url
    await open_shift(url)
    [order_no] = await add_orders(url, 4321)
    crashing = CrashAfterCharge()
    async with station_api(url, online=[crashing]) as (app, http):
        answer = await http.post(PAYMENTS, headers={**cashier(app), **key()}, json={
            "terminal": "pos-1", "order_nos": [order_no], "tenders": [{"method": "wechat", "amount_fen": 4321}]})
        assert answer.status_code == 200, answer.text
        [payment] = answer.json()["payments"]
        assert payment["state"] == "pending" and "结果未知" in payment["message"]      # never failed on a guess
    assert await paid(url, order_no) == (0, "payable")
    providers, bus = Providers([crashing]), build_bus(policy(Role.STATION).contexts)
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        assert await service.reconcile(conn, bus, providers, MANAGER) == 1
        assert await service.reconcile(conn, bus, providers, MANAGER) == 0       # settled once
    assert await scalar(url, "SELECT state FROM business.payments") == "succeeded"
    assert await paid(url, order_no) == (4321, "paid")
    assert await outbox(url, "payment.captured") == 1


async def test_the_station_server_settles_a_crashed_payment_when_it_starts(station_database_url: str) -> None:
    url = station_database_url
    await open_shift(url)
    [order_no] = await add_orders(url, 1500)
    paid_meanwhile = QrProvider()
    paid_meanwhile.customer_paid = True                  # the customer paid; the station server went down
    command = TakePayment(STATION, "pos-1", "cashier", (order_no,), (Tender(Method.WECHAT, 1500),), datetime.now(UTC))
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn, UnitOfWork(conn, MANAGER) as uow:
        await build_bus(policy(Role.STATION).contexts).handle(command, uow)     # (a) written, then the crash
    assert await scalar(url, "SELECT state FROM business.payments") == "pending"
    async with station_api(url, online=[paid_meanwhile]):
        assert await scalar(url, "SELECT state FROM business.payments") == "succeeded"   # before any request
    assert await paid(url, order_no) == (1500, "paid")


class HeadOfficeAway(QrProvider):
    def unavailable(self) -> str | None:
        return "总部连接中断，暂不能微信收款"


async def test_an_unavailable_method_is_listed_with_why_and_refused(station_database_url: str,
                                                                    database_url: str) -> None:
    url = station_database_url
    await open_shift(url)
    [order_no] = await add_orders(url, 3000)
    body = {"terminal": "pos-1", "order_nos": [order_no], "tenders": [{"method": "wechat", "amount_fen": 3000}]}
    async with station_api(url, online=[HeadOfficeAway()]) as (app, http):
        listed = (await http.get(f"{PAYMENTS}/methods", headers=cashier(app))).json()["items"]
        methods = {m["method"]: m for m in listed}
        refused = await http.post(PAYMENTS, headers={**cashier(app), **key()}, json=body)
    assert methods["wechat"] == {"method": "wechat", "label": "微信支付", "available": False,
                                 "reason": "总部连接中断，暂不能微信收款", "safe_offline": False}
    assert refused.status_code == 409 and "总部连接中断" in refused.json()["detail"]
    assert await scalar(url, "SELECT count(*) FROM business.payments") == 0
    async with served_api(database_url) as (head_office, http):
        answer = await http.post(PAYMENTS, headers={**cashier(head_office), **key()}, json=body)
    assert answer.status_code == 409 and "站级服务器" in answer.json()["detail"]
