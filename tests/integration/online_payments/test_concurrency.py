"""Issue 15's bar for online payments: many concurrent requests for one payment make one provider order, and
a WeChat callback that arrives after the POS timed out settles the payment once."""

from __future__ import annotations

import asyncio

import niquests
import pytest

from business_services.online_payments.model import UNKNOWN
from business_services.payments.providers import ChargeRequest, ChargeState
from telemetry.contracts.events.payments import Method
from tests.integration.online_payments.support import PROVIDER_TIMEOUT_S, STATION, HeadOffice, until

pytestmark = pytest.mark.integration


def body(n: int) -> dict[str, object]:
    return {"station": STATION, "payment_no": f"{STATION}-20261204-P{n:05d}", "method": "wechat",
            "amount_fen": 6000, "description": "演示站 加油 92# 8.40L"}


async def test_fifty_concurrent_charges_make_one_provider_order(head_office: HeadOffice) -> None:
    link = head_office.provider().link
    same_key = await asyncio.gather(*(link.call("POST", "/api/v1/online-payments", body(51),
                                                idempotency_key="one-key-for-all-50") for _ in range(50)))
    assert {status for status, _ in same_key} <= {200, 409}                 # 409: the first is still running
    assert {answer["state"] for status, answer in same_key if status == 200} == {"pending"}
    other_keys = await asyncio.gather(*(link.call("POST", "/api/v1/online-payments", body(51),
                                                  idempotency_key=f"own-key-{n:04d}") for n in range(50)))
    assert {status for status, _ in other_keys} == {200}
    assert len({answer["qr_code_url"] for _, answer in other_keys}) == 1           # one order's code
    assert list(head_office.sim.orders) == [body(51)["payment_no"]]
    assert await head_office.scalar("SELECT count(*) FROM business.online_payments") == 1


async def test_a_callback_after_the_pos_timed_out_settles_the_payment_once(head_office: HeadOffice) -> None:
    provider, payment_no = head_office.provider(), str(body(52)["payment_no"])
    async with niquests.AsyncSession() as http:
        await http.post(f"{head_office.sim_url}/_sim/faults", json={"delay_next_s": PROVIDER_TIMEOUT_S + 1.5})
        answer = await provider.charge(ChargeRequest(payment_no, STATION, Method.WECHAT, 6000, "演示站 加油"))
        assert (answer.state, answer.message) == (ChargeState.PENDING, UNKNOWN)
        assert (await http.post(f"{head_office.sim_url}/_sim/pay/{payment_no}")).ok     # paid after all

    async def settled() -> bool:
        return await head_office.row(payment_no) == ("succeeded", 6000, 0)
    await until(settled)                                                                 # by the callback
    assert (await provider.query(payment_no)).state == ChargeState.SUCCEEDED
    assert await head_office.scalar("SELECT count(*) FROM business.online_payment_callbacks") == 1
