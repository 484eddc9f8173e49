"""Alipay through head office, end to end over real HTTP: the station server's provider → head office →
python-alipay-sdk → the Alipay simulator's /gateway.do → its signed form callback back to head office."""

from __future__ import annotations

import niquests
import pytest

from business_services.payments.providers import ChargeRequest, ChargeState, RefundRequest
from simulators.alipay.server import AlipaySim
from telemetry.contracts.events.payments import Method
from tests.integration.online_payments.support import PROVIDER_TIMEOUT_S, STATION, HeadOffice, until

pytestmark = pytest.mark.integration
BAR_CODE = "286543210987654321"      # a customer's Alipay payment code (25–30 first)


def charge(n: int, fen: int = 4250, auth_code: str | None = None) -> ChargeRequest:
    return ChargeRequest(f"{STATION}-20261204-P{n:05d}", STATION, Method.ALIPAY, fen, "演示站 加油 95# 5.00L",
                         auth_code)


async def test_a_precreated_qr_order_is_paid_and_settled_by_the_signed_callback(head_office: HeadOffice) -> None:
    provider, request = head_office.provider(Method.ALIPAY), charge(21)
    first = await provider.charge(request)
    assert first.state == ChargeState.PENDING and (first.qr_code_url or "").startswith("https://qr.alipay.com/")
    assert (await provider.charge(request)) == first                             # retried: one trade
    assert list(head_office.alipay.trades) == [request.payment_no]
    async with niquests.AsyncSession() as http:
        assert (await http.post(f"{head_office.alipay_url}/_sim/pay/{request.payment_no}")).ok

    async def settled() -> bool:
        return await head_office.row(request.payment_no) == ("succeeded", 4250, 0)
    await until(settled)                                                         # by the callback alone
    assert await head_office.scalar("SELECT count(*) FROM business.online_payment_callbacks "
                                    "WHERE provider = 'alipay'") == 1
    paid = await provider.query(request.payment_no)
    assert (paid.state, paid.provider_ref) == (ChargeState.SUCCEEDED, head_office.alipay.trades[request.payment_no]
                                               .trade_no)


async def test_a_bar_code_payment_succeeds_at_once_and_refunds_stop_at_the_capture(head_office: HeadOffice) -> None:
    provider, request = head_office.provider(Method.ALIPAY), charge(22, fen=4250, auth_code=BAR_CODE)
    paid = await provider.charge(request)
    assert paid.state == ChargeState.SUCCEEDED and paid.provider_ref

    def refund(n: int, fen: int) -> RefundRequest:
        return RefundRequest(f"{STATION}-20261204-R{n:05d}", request.payment_no, Method.ALIPAY, fen, 4250, "多收退回")

    assert (await provider.refund(refund(21, 4000))).state == ChargeState.SUCCEEDED
    over = await provider.refund(refund(22, 251))
    assert over.state == ChargeState.FAILED and "可退金额" in over.message
    assert (await provider.refund(refund(23, 250))).state == ChargeState.SUCCEEDED
    assert head_office.alipay.trades[request.payment_no].refunded == 4250
    assert await head_office.row(request.payment_no) == ("succeeded", 4250, 4250)


async def test_a_bad_payment_code_fails_and_a_forged_callback_is_refused(head_office: HeadOffice) -> None:
    provider = head_office.provider(Method.ALIPAY)
    bad = await provider.charge(charge(23, auth_code="134567890123456789"))      # a WeChat code, not Alipay's
    assert bad.state == ChargeState.FAILED and "付款码" in bad.message
    request = charge(24)
    assert (await provider.charge(request)).state == ChargeState.PENDING
    trade = head_office.alipay.trades[request.payment_no]
    trade.paid()
    forged = AlipaySim().notification(trade, "forged-notify-1")                 # signed with another key
    async with niquests.AsyncSession() as http:
        answer = await http.post(f"{head_office.url}/api/v1/online-payments/notify/alipay", data=forged)
    assert (answer.status_code, answer.text) == (400, "fail")
    assert await head_office.row(request.payment_no) == ("pending", 0, 0)
    assert await head_office.scalar("SELECT count(*) FROM business.online_payment_callbacks") == 0


async def test_a_timed_out_precreate_is_pending_and_cancel_after_payment_is_succeeded(head_office: HeadOffice) -> None:
    provider, unpaid, paid = head_office.provider(Method.ALIPAY), charge(25), charge(26)
    async with niquests.AsyncSession() as http:
        await http.post(f"{head_office.alipay_url}/_sim/faults", json={"delay_next_s": PROVIDER_TIMEOUT_S + 1.5})
        late = await provider.charge(paid)
        assert late.state == ChargeState.PENDING and late.qr_code_url is None      # answer lost: outcome unknown
        assert (await provider.charge(unpaid)).state == ChargeState.PENDING
        assert (await provider.cancel(unpaid.payment_no)).state == ChargeState.FAILED
        assert head_office.alipay.trades[unpaid.payment_no].status == "TRADE_CLOSED"
        await http.post(f"{head_office.alipay_url}/_sim/faults", json={"pay_on_query": True})
    assert (await provider.cancel(paid.payment_no)).state == ChargeState.SUCCEEDED   # paid as the POS gave up
    assert head_office.alipay.trades[paid.payment_no].status == "TRADE_SUCCESS"
    assert await head_office.row(paid.payment_no) == ("succeeded", 4250, 0)
