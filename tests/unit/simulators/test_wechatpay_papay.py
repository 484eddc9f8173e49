"""The WeChat Pay simulator's 委托代扣 (papay), driven through the real SDK (``wechatpayv3``, head office's
``PapayGateway``) on a real port: a contract signed on the user's page and notified signed and encrypted; queried;
ended by the merchant or by the user; deductions by contract, and their failures (insufficient balance, an ended
contract, a reused out_trade_no, a late answer, an unsigned request)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import niquests
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from business_services.online_payments.model import ProviderUnreachable
from business_services.online_payments.papay import PapayGateway, PapayRefused
from business_services.online_payments.settings import WeChatSettings
from business_services.payments.providers import ChargeState
from forecourt.local import free_port, wait_for_port
from simulators.wechatpay.keys import WeChatPayKeys
from simulators.wechatpay.papay import PLAN_ID
from simulators.wechatpay.server import WeChatPaySim


@contextlib.asynccontextmanager
async def serving(app: ASGIApp) -> AsyncIterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    try:
        await wait_for_port("127.0.0.1", port)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@dataclass
class Merchant:
    """The merchant's notification receiver: what arrived, verified by the SDK."""

    gateway: PapayGateway | None = None
    contracts: list[tuple[str, str, str | None]] = field(default_factory=list)   # (id, state, mode)
    payments: list[str] = field(default_factory=list)

    async def contract(self, request: Request) -> Response:
        assert self.gateway is not None
        notice = self.gateway.verify_contract(dict(request.headers), await request.body())
        if notice is None:
            return Response(status_code=401)
        self.contracts.append((notice.notification_id, notice.state, notice.mode))
        return Response(status_code=204)

    async def payment(self, request: Request) -> Response:
        assert self.gateway is not None
        notice = self.gateway.verify(dict(request.headers), await request.body())
        if notice is None:
            return Response(status_code=401)
        self.payments.append(notice.payment_no)
        return Response(status_code=204)


@dataclass
class World:
    sim: WeChatPaySim
    url: str
    gateway: PapayGateway
    merchant: Merchant

    async def user(self, method: str, url: str) -> niquests.Response:
        async with niquests.AsyncSession() as http:
            return await http.request(method, url)

    async def signed(self, code: str = "M00000001A1") -> str:
        """A contract signed by the user on the simulator's page; its contract id."""
        page = await self.gateway.presign(code, "会员 M00000001")
        assert (await self.user("GET", page)).status_code == 200
        assert (await self.user("POST", page)).json()["contract_state"] == "SIGNED"
        found = await self.gateway.contract(code)
        assert found is not None and found.contract_id
        return found.contract_id


async def until(condition: object, within_s: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + within_s
    while not (condition() if callable(condition) else condition):
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


@pytest.fixture
async def world() -> AsyncIterator[World]:
    sim, merchant = WeChatPaySim(retry_s=0.05), Merchant()
    receiver = Starlette(routes=[Route("/contract", merchant.contract, methods=["POST"]),
                                 Route("/payment", merchant.payment, methods=["POST"])])
    async with serving(sim.app) as url, serving(receiver) as back:
        settings = WeChatSettings(**sim.keys.merchant_config(url), notify_url=f"{back}/payment", timeout_s=1.0)
        merchant.gateway = PapayGateway(settings, PLAN_ID, f"{back}/contract")
        yield World(sim, url, merchant.gateway, merchant)
        await sim.close()


async def test_the_user_signs_on_the_page_and_the_merchant_is_notified_once_signed(world: World) -> None:
    page = await world.gateway.presign("M00000001A1", "会员 M00000001")
    assert page == await world.gateway.presign("M00000001A1", "会员 M00000001")   # unsigned: the same page again
    assert await world.gateway.contract("M00000001A1") is None                     # not signed yet
    shown = await world.user("GET", page)
    assert "确认签约" in shown.text and "会员 M00000001" in (shown.text or "")
    confirmed = (await world.user("POST", page)).json()
    assert confirmed["contract_state"] == "SIGNED" and confirmed["contract_id"].startswith("Wx")
    await until(lambda: world.merchant.contracts)
    [(_, state, _)] = world.merchant.contracts
    assert state == "SIGNED"
    found = await world.gateway.contract("M00000001A1")
    assert found is not None and (found.state, found.contract_id) == ("SIGNED", confirmed["contract_id"])
    with pytest.raises(PapayRefused, match="协议号已使用"):
        await world.gateway.presign("M00000001A1", "会员 M00000001")              # a signed code is not reused


async def test_a_deduction_by_contract_is_paid_notified_and_refundable(world: World) -> None:
    contract_id = await world.signed()
    paid = await world.gateway.create("demo-01-P00001", 15000, "演示站 加油 92#", contract_id)
    assert paid.state == ChargeState.SUCCEEDED and paid.provider_ref
    again = await world.gateway.create("demo-01-P00001", 15000, "演示站 加油 92#", contract_id)
    assert (again.state, again.provider_ref) == (ChargeState.SUCCEEDED, paid.provider_ref)   # one deduction
    assert world.sim.orders["demo-01-P00001"].mode == "AUTO"
    await until(lambda: world.merchant.payments == ["demo-01-P00001"])
    refunded = await world.gateway.refund("demo-01-R00001", "demo-01-P00001", 15000, 15000, "撤销")
    assert refunded.state == ChargeState.SUCCEEDED


async def test_a_deduction_above_the_users_balance_fails_with_the_reason(world: World) -> None:
    contract_id = await world.signed()
    world.sim.faults.papay_balance_fen = 10000
    failed = await world.gateway.create("demo-01-P00002", 15000, "演示站 加油 92#", contract_id)
    assert failed.state == ChargeState.FAILED and "余额不足" in failed.message
    assert world.sim.orders["demo-01-P00002"].trade_state == "PAYERROR"
    paid = await world.gateway.create("demo-01-P00003", 8000, "演示站 加油 92#", contract_id)
    assert paid.state == ChargeState.SUCCEEDED and world.sim.faults.papay_balance_fen == 2000


async def test_an_ended_contract_refuses_deductions_whoever_ended_it(world: World) -> None:
    contract_id = await world.signed("M00000001A1")
    await world.gateway.terminate("M00000001A1", "会员解约")
    await world.gateway.terminate("M00000001A1", "会员解约")                       # again: nothing changes
    refused = await world.gateway.create("demo-01-P00004", 5000, "演示站 加油 92#", contract_id)
    assert refused.state == ChargeState.FAILED and "解约" in refused.message
    assert "demo-01-P00004" not in world.sim.orders

    other = await world.signed("M00000002A1")
    ended = await world.user("POST", f"{world.url}/_sim/papay/contracts/{other}/terminate")   # the user, in WeChat
    assert ended.status_code == 200
    found = await world.gateway.contract("M00000002A1")
    assert found is not None and (found.state, found.mode) == ("TERMINATED", "USER")
    await until(lambda: [m for _, s, m in world.merchant.contracts if s == "TERMINATED"] == ["MCH_API", "USER"])
    assert (await world.gateway.create("demo-01-P00005", 5000, "x", other)).state == ChargeState.FAILED
    unknown = await world.gateway.create("demo-01-P00006", 5000, "x", "Wx00000000000000000000000000")
    assert unknown.state == ChargeState.FAILED


async def test_a_reused_number_a_late_answer_and_a_deduction_made_later(world: World) -> None:
    contract_id = await world.signed()
    assert (await world.gateway.create("demo-01-P00007", 5000, "加油", contract_id)).state == ChargeState.SUCCEEDED
    reused = await world.gateway.create("demo-01-P00007", 6000, "加油", contract_id)
    assert reused.state == ChargeState.FAILED and "商户订单号重复" in reused.message

    world.sim.faults.delay_next_s = 1.5                      # accepted and made, but the answer comes too late
    with pytest.raises(ProviderUnreachable):
        await world.gateway.create("demo-01-P00008", 5000, "加油", contract_id)
    assert world.sim.orders["demo-01-P00008"].trade_state == "SUCCESS"
    assert (await world.gateway.query("demo-01-P00008")).state == ChargeState.SUCCEEDED

    world.sim.faults.deduct_later = True
    waiting = await world.gateway.create("demo-01-P00009", 5000, "加油", contract_id)
    assert waiting.state == ChargeState.PENDING                                    # ACCEPT
    async with niquests.AsyncSession() as http:
        assert (await http.post(f"{world.url}/_sim/pay/demo-01-P00009")).ok
    assert (await world.gateway.query("demo-01-P00009")).state == ChargeState.SUCCEEDED


async def test_a_request_not_signed_by_the_merchant_is_refused(world: World) -> None:
    stranger = WeChatSettings(**WeChatPayKeys().merchant_config(world.url), notify_url="http://127.0.0.1:9/x")
    forged = PapayGateway(stranger.model_copy(update={"platform_public_key": world.sim.keys.platform[1],
                                                      "platform_key_id": world.sim.keys.platform_key_id,
                                                      "mchid": world.sim.keys.mchid}), PLAN_ID, "http://x")
    with pytest.raises(PapayRefused, match="SIGN_ERROR"):
        await forged.presign("M00000009A1", "会员")
