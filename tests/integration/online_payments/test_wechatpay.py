"""WeChat Pay through head office, end to end over real HTTP: the station server's provider → head office's
API → wechatpayv3 → the WeChat Pay simulator → its signed, encrypted callback back to head office."""

from __future__ import annotations

import time

import niquests
import pytest

from business_services.online_payments.handlers import OnlinePayments
from business_services.online_payments.model import UNKNOWN
from business_services.payments.providers import ChargeRequest, ChargeState, RefundRequest
from control_api.database import Database
from simulators.wechatpay.server import WeChatPaySim
from telemetry.contracts.events.payments import Method
from tests.integration.online_payments.support import PROVIDER_TIMEOUT_S, STATION, HeadOffice, until

pytestmark = pytest.mark.integration
AUTH_CODE = "134567890123456789"       # a customer's WeChat payment code (18 digits, 10–15 first)


def charge(n: int, fen: int = 5000, auth_code: str | None = None, station: str = STATION) -> ChargeRequest:
    return ChargeRequest(f"{station}-20261204-P{n:05d}", station, Method.WECHAT, fen, "演示站 加油 92# 7.00L",
                         auth_code)


async def sim(office: HeadOffice, method: str, path: str, body: object = None) -> niquests.Response:
    async with niquests.AsyncSession() as http:
        answer = await http.request(method, office.sim_url + path, json=body)
    assert answer.ok, answer.text
    return answer


async def test_a_native_payment_the_customer_pays_succeeds_by_callback_and_query(head_office: HeadOffice) -> None:
    provider, request = head_office.provider(), charge(1)
    first = await provider.charge(request)
    assert first.state == ChargeState.PENDING and first.qr_code_url and first.qr_code_url.startswith("weixin://")
    assert (await provider.charge(request)) == first                 # a retried charge: the same, no second order
    assert list(head_office.sim.orders) == [request.payment_no]

    await sim(head_office, "POST", f"/_sim/pay/{request.payment_no}")      # the customer scans and pays
    await until(lambda: head_office.row(request.payment_no))
    await until(lambda: _state_is(head_office, request.payment_no, "succeeded"))   # the callback, not a query
    assert await head_office.row(request.payment_no) == ("succeeded", 5000, 0)
    paid = await provider.query(request.payment_no)
    assert paid.state == ChargeState.SUCCEEDED
    assert paid.provider_ref == head_office.sim.orders[request.payment_no].transaction_id
    assert (await provider.charge(request)).state == ChargeState.SUCCEEDED   # a late retry: what is known now
    assert await head_office.scalar("SELECT count(*) FROM business.online_payment_callbacks") == 1


async def _state_is(office: HeadOffice, payment_no: str, state: str) -> bool:
    row = await office.row(payment_no)
    return row is not None and row[0] == state


async def test_a_callback_delivered_twice_changes_the_payment_once(head_office: HeadOffice) -> None:
    provider, request = head_office.provider(), charge(2)
    assert (await provider.charge(request)).state == ChargeState.PENDING
    await sim(head_office, "POST", "/_sim/faults", {"notify_twice": True})
    await sim(head_office, "POST", f"/_sim/pay/{request.payment_no}")

    async def both_delivered() -> bool:
        deliveries = (await sim(head_office, "GET", "/_sim/notifications")).json()
        return len(deliveries) == 1 and deliveries[0]["attempts"].count(204) == 2
    await until(both_delivered)
    assert await head_office.scalar("SELECT count(*) FROM business.online_payment_callbacks") == 1
    assert await head_office.scalar("SELECT duplicates FROM business.online_payment_callbacks") == 1
    assert await head_office.row(request.payment_no) == ("succeeded", 5000, 0)


async def test_a_create_that_times_out_is_pending_and_a_later_query_finds_the_payment(head_office: HeadOffice) -> None:
    provider, request = head_office.provider(), charge(3, auth_code=AUTH_CODE)
    await sim(head_office, "POST", "/_sim/faults", {"delay_next_s": PROVIDER_TIMEOUT_S + 1.5})
    answer = await provider.charge(request)
    assert (answer.state, answer.message) == (ChargeState.PENDING, UNKNOWN)   # the money may have been taken
    assert head_office.sim.orders[request.payment_no].trade_state == "SUCCESS"
    assert await head_office.row(request.payment_no) == ("pending", 0, 0)
    found = await provider.query(request.payment_no)
    assert found.state == ChargeState.SUCCEEDED and found.provider_ref
    assert await head_office.row(request.payment_no) == ("succeeded", 5000, 0)


async def test_cancel_after_the_customer_paid_answers_succeeded(head_office: HeadOffice) -> None:
    provider = head_office.provider()
    unpaid, paid = charge(4), charge(5)
    assert (await provider.charge(unpaid)).state == ChargeState.PENDING
    assert (await provider.charge(paid)).state == ChargeState.PENDING
    closed = await provider.cancel(unpaid.payment_no)
    assert closed.state == ChargeState.FAILED
    assert head_office.sim.orders[unpaid.payment_no].trade_state == "CLOSED"

    await sim(head_office, "POST", "/_sim/faults", {"pay_on_query": True})   # paid as the cashier gave up
    assert (await provider.cancel(paid.payment_no)).state == ChargeState.SUCCEEDED
    assert head_office.sim.orders[paid.payment_no].trade_state == "SUCCESS"
    assert await head_office.row(paid.payment_no) == ("succeeded", 5000, 0)
    assert await head_office.scalar("SELECT count(*) FROM business.audit_log WHERE action = 'online_payment.cancel'") \
        == 2


async def test_refunds_never_exceed_the_capture(head_office: HeadOffice) -> None:
    provider, request = head_office.provider(), charge(6, fen=5000, auth_code=AUTH_CODE)
    assert (await provider.charge(request)).state == ChargeState.SUCCEEDED          # 付款码: paid at once

    def refund(n: int, fen: int) -> RefundRequest:
        return RefundRequest(f"{STATION}-20261204-R{n:05d}", request.payment_no, Method.WECHAT, fen, 5000, "油品退回")

    assert (await provider.refund(refund(1, 3000))).state == ChargeState.SUCCEEDED
    assert (await provider.refund(refund(1, 3000))).state == ChargeState.SUCCEEDED   # a retry: refunded once
    over = await provider.refund(refund(2, 2001))
    assert over.state == ChargeState.FAILED and "可退金额" in over.message
    await sim(head_office, "POST", "/_sim/faults", {"refund_fails": True})
    failed = await provider.refund(refund(3, 2000))
    assert failed.state == ChargeState.FAILED and "余额不足" in failed.message
    assert await head_office.row(request.payment_no) == ("succeeded", 5000, 3000)    # the failed one released
    await sim(head_office, "POST", "/_sim/faults", {})
    assert (await provider.refund(refund(4, 2000))).state == ChargeState.SUCCEEDED
    assert head_office.sim.orders[request.payment_no].refunded == 5000
    assert await head_office.row(request.payment_no) == ("succeeded", 5000, 5000)


async def test_a_callback_with_a_bad_signature_is_refused_and_changes_nothing(head_office: HeadOffice) -> None:
    provider, request = head_office.provider(), charge(7)
    assert (await provider.charge(request)).state == ChargeState.PENDING
    order = head_office.sim.orders[request.payment_no]
    order.paid()                                                         # paid, but no genuine callback sent
    forger = WeChatPaySim()                                              # other keys: not WeChat Pay's
    body = forger.notification(order, "forged-0001")
    async with niquests.AsyncSession() as http:
        answer = await http.post(f"{head_office.url}/api/v1/online-payments/notify/wechatpay", data=body.encode(),
                                 headers={**forger.signed_headers(body), "Content-Type": "application/json"})
        unsigned = await http.post(f"{head_office.url}/api/v1/online-payments/notify/wechatpay", data=body.encode(),
                                   headers={"Content-Type": "application/json"})
        genuine_id = {**forger.signed_headers(body), "Wechatpay-Serial": head_office.sim.keys.platform_key_id}
        same_id = await http.post(f"{head_office.url}/api/v1/online-payments/notify/wechatpay", data=body.encode(),
                                  headers={**genuine_id, "Content-Type": "application/json"})
    assert answer.status_code == 401 and answer.json()["code"] == "FAIL"
    assert unsigned.status_code == 401 and same_id.status_code == 401
    assert await head_office.row(request.payment_no) == ("pending", 0, 0)
    assert await head_office.scalar("SELECT count(*) FROM business.online_payment_callbacks") == 0


async def test_a_station_reaches_only_its_own_payments(head_office: HeadOffice) -> None:
    own, other = head_office.provider(), head_office.provider(stations=["demo-02"])
    theirs = charge(8, station="demo-02")
    assert (await other.charge(theirs)).state == ChargeState.PENDING
    refused = await own.charge(charge(9, station="demo-02"))
    assert refused.state == ChargeState.FAILED and "demo-02" in refused.message
    assert (await own.query(theirs.payment_no)).state == ChargeState.FAILED        # 403: not its station
    assert (await own.cancel(theirs.payment_no)).state == ChargeState.FAILED
    assert await head_office.row(theirs.payment_no) == ("pending", 0, 0)
    assert await head_office.row(charge(9, station="demo-02").payment_no) is None


async def test_head_office_unreachable_fails_fast_and_recovers(head_office: HeadOffice) -> None:
    from business_services.online_payments.station_client import HeadOfficeLink, HeadOfficeProvider
    from forecourt.local import free_port
    from tests.integration.online_payments.support import serving

    port = free_port()                                        # nothing listens here yet
    link = HeadOfficeLink(f"http://127.0.0.1:{port}", "fck_00000000_x", timeout_s=2, probe_every_s=0.2)
    provider = HeadOfficeProvider(Method.WECHAT, link.base_url, "", link=link)
    assert provider.unavailable() is None
    first = await provider.charge(charge(10))
    assert first.state == ChargeState.FAILED and "总部连接中断" in first.message
    assert provider.unavailable() is not None and "微信支付" in (provider.unavailable() or "")
    started = time.monotonic()
    again = await provider.charge(charge(10))
    assert again.state == ChargeState.FAILED and "总部连接中断" in again.message
    assert time.monotonic() - started < link.timeout_s          # answered without trying the network
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route
    health = Starlette(routes=[Route("/healthz", lambda request: PlainTextResponse("ok"))])
    async with serving(health, port):
        await until(lambda: provider.unavailable() is None)   # the probe found head office again
    await link.close()


async def test_pending_payments_are_settled_by_the_periodic_check(head_office: HeadOffice) -> None:
    provider, request = head_office.provider(), charge(11)
    assert (await provider.charge(request)).state == ChargeState.PENDING
    await sim(head_office, "POST", "/_sim/faults", {"pay_on_query": True})   # paid; its callback not yet in
    database = Database(head_office.database_url)
    await database.open()
    try:
        service = OnlinePayments(database, head_office.gateways)
        assert await service.settle_pending(older_than_s=3600) == 0          # too recent to ask about
        assert await service.settle_pending(older_than_s=0) == 1
    finally:
        await database.close()
    assert (await head_office.row(request.payment_no) or ("",))[0] == "succeeded"


async def test_a_payment_code_awaiting_the_password_is_pending_until_the_customer_confirms(
        head_office: HeadOffice) -> None:
    provider, request = head_office.provider(), charge(12, auth_code=AUTH_CODE)
    await sim(head_office, "POST", "/_sim/faults", {"needs_password": True})
    waiting = await provider.charge(request)
    assert waiting.state == ChargeState.PENDING and "支付密码" in waiting.message
    assert (await provider.query(request.payment_no)).state == ChargeState.PENDING
    await sim(head_office, "POST", f"/_sim/pay/{request.payment_no}")              # the customer confirms
    confirmed = await provider.query(request.payment_no)
    assert confirmed.state == ChargeState.SUCCEEDED and confirmed.provider_ref
    assert await head_office.row(request.payment_no) == ("succeeded", 5000, 0)
