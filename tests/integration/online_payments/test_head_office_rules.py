"""Head office's rules on online payments: concurrent refunds never exceed the capture, a number reused for
another payment is refused, bad input is a clear 4xx, a station key's issue is audited."""

from __future__ import annotations

import asyncio

import niquests
import psycopg
import pytest

from business_services.audit.model import Actor
from business_services.online_payments.station_keys import issue_station_key
from business_services.payments.providers import ChargeRequest, ChargeState, RefundRequest
from telemetry.contracts.events.payments import Method
from tests.integration.online_payments.support import STATION, HeadOffice

pytestmark = pytest.mark.integration
AUTH_CODE = "134567890123456789"


def charge(n: int, fen: int = 10000) -> ChargeRequest:
    return ChargeRequest(f"{STATION}-20261204-P{n:05d}", STATION, Method.WECHAT, fen, "演示站 加油", AUTH_CODE)


async def test_concurrent_refunds_never_exceed_the_capture(head_office: HeadOffice) -> None:
    provider, request = head_office.provider(), charge(41)
    assert (await provider.charge(request)).state == ChargeState.SUCCEEDED
    refunds = [RefundRequest(f"{STATION}-20261204-R{40 + n:05d}", request.payment_no, Method.WECHAT, 3000, 10000,
                             "并发退款") for n in range(6)]                  # 6 × 30.00 of 100.00: 3 fit
    sent = [*refunds, refunds[0]]                                   # and one twice, at the same time
    results = await asyncio.gather(*(provider.refund(r) for r in sent))
    # either copy of the doubled one may come first (the other gets "still in progress" or the replay)
    assert len({r.refund_no for r, done in zip(sent, results, strict=True) if done.state is ChargeState.SUCCEEDED}) == 3
    assert await head_office.row(request.payment_no) == ("succeeded", 10000, 9000)
    assert head_office.sim.orders[request.payment_no].refunded == 9000
    assert await head_office.scalar("SELECT count(*) FROM business.audit_log WHERE action = 'online_payment.refund'") \
        == 3


async def test_a_payment_number_reused_for_another_payment_is_refused(head_office: HeadOffice) -> None:
    provider = head_office.provider()
    assert (await provider.charge(charge(42))).state == ChargeState.SUCCEEDED
    other = ChargeRequest(charge(42).payment_no, STATION, Method.WECHAT, 10001, "演示站 加油", AUTH_CODE)
    link = provider.link
    status, body = await link.call("POST", "/api/v1/online-payments",
                                   {"station": STATION, "payment_no": other.payment_no, "method": "wechat",
                                    "amount_fen": 10001, "description": "x", "auth_code": AUTH_CODE},
                                   idempotency_key="another-key-0001")
    assert status == 409 and "已用于另一笔支付" in body["detail"]
    assert await head_office.row(other.payment_no) == ("succeeded", 10000, 0)
    assert len(head_office.sim.orders) == 1


@pytest.mark.parametrize(("field", "value"), [("method", "cash"), ("amount_fen", 0), ("amount_fen", -5),
                                              ("payment_no", "a/b"), ("auth_code", "12ab"), ("station", "")])
async def test_bad_input_is_a_clear_4xx(head_office: HeadOffice, field: str, value: object) -> None:
    body = {"station": STATION, "payment_no": f"{STATION}-20261204-P00043", "method": "wechat", "amount_fen": 100,
            "description": "演示站 加油"} | {field: value}
    status, answer = await head_office.provider().link.call("POST", "/api/v1/online-payments", body,
                                                            idempotency_key=f"bad-input-{field}-{value}")
    assert status in (403, 422), answer             # an empty station is outside the key's scope: 403
    assert answer["title"] and answer["detail"]
    assert await head_office.row(f"{STATION}-20261204-P00043") is None
    assert head_office.sim.orders == {}


async def test_station_keys_are_audited_and_carry_only_payment_online(head_office: HeadOffice) -> None:
    rows = await head_office.scalar("SELECT count(*) FROM business.audit_log WHERE action = 'access.apikey.create'")
    assert rows == 2                                                    # demo-01's and demo-02's
    async with niquests.AsyncSession() as http:
        answer = await http.get(f"{head_office.url}/api/v1/stations",
                                headers={"X-API-Key": await _key(head_office)})
    assert answer.status_code == 403


async def _key(office: HeadOffice) -> str:

    async with await psycopg.AsyncConnection.connect(office.database_url, autocommit=True) as conn:
        return await issue_station_key(conn, "demo-03", Actor("admin", "test"))


@pytest.mark.parametrize("payment_no", ["%00abcdefg", "x" * 33, "abc", "a%2Bbcdefg", "%E7%AB%99%E7%82%B9ab"])
async def test_a_malformed_payment_number_in_the_path_is_422(head_office: HeadOffice, payment_no: str) -> None:
    link = head_office.provider().link
    status, answer = await link.call("GET", f"/api/v1/online-payments/{payment_no}")
    assert status == 422 and "payment_no" in answer["detail"]
    status, _ = await link.call("POST", f"/api/v1/online-payments/{payment_no}/cancel",
                                idempotency_key=f"cancel-{payment_no[:20]}")
    assert status == 422
