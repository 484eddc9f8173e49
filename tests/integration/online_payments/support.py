"""Head office on a real port with the WeChat Pay simulator on another, and station servers' providers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import psycopg
import pytest
import uvicorn
from fastapi import FastAPI
from starlette.types import ASGIApp

from business_services.audit.model import Actor
from business_services.online_payments.alipay import AlipayGateway
from business_services.online_payments.model import ProviderGateway
from business_services.online_payments.papay import PapayGateway
from business_services.online_payments.settings import AlipaySettings, WeChatSettings
from business_services.online_payments.station_client import HeadOfficeLink, HeadOfficeProvider
from business_services.online_payments.station_keys import issue_station_key
from business_services.online_payments.wechat import WeChatGateway
from control_api.app import create_app
from control_api.security import TokenIssuer
from forecourt.local import free_port, wait_for_port
from simulators.alipay.server import AlipaySim
from simulators.wechatpay.papay import PLAN_ID
from simulators.wechatpay.server import WeChatPaySim
from telemetry.contracts.events.payments import Method

STATION = "demo-01"
PROVIDER_TIMEOUT_S = 1.0      # head office's wait for WeChat Pay; the simulator's slow answers take longer


@contextlib.asynccontextmanager
async def serving(app: ASGIApp, port: int | None = None) -> AsyncIterator[str]:
    """``app`` under uvicorn on a real port; yields its base URL."""
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    try:
        await wait_for_port("127.0.0.1", port)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def api_key(database_url: str, station: str) -> str:
    """A station server's key: ``payment:online`` for its station."""
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        return await issue_station_key(conn, station, Actor("admin", "test"))


@dataclass
class HeadOffice:
    url: str
    sim: WeChatPaySim
    sim_url: str
    database_url: str
    provider: Callable[..., HeadOfficeProvider]   # (method=WECHAT, stations=[STATION]) → a station's provider
    alipay: AlipaySim
    alipay_url: str
    gateways: dict[Method, ProviderGateway]
    app: FastAPI

    async def row(self, payment_no: str) -> tuple[str, int, int] | None:
        async with await psycopg.AsyncConnection.connect(self.database_url) as conn:
            cur = await conn.execute("SELECT state, captured_fen, refunded_fen FROM business.online_payments "
                                     "WHERE payment_no = %s", (payment_no,))
            return await cur.fetchone()

    async def scalar(self, sql: str, *args: object) -> object:
        async with await psycopg.AsyncConnection.connect(self.database_url) as conn:
            row = await (await conn.execute(sql, args)).fetchone()  # type: ignore[arg-type]
            return None if row is None else row[0]


async def until(condition: Callable[[], object], within_s: float = 15.0) -> None:
    """Poll an (async) condition until it holds; fail after ``within_s``."""
    deadline = asyncio.get_running_loop().time() + within_s
    while True:
        value = condition()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


@pytest.fixture
async def head_office(database_url: str) -> AsyncIterator[HeadOffice]:
    sim, alipay = WeChatPaySim(retry_s=0.1), AlipaySim(retry_s=0.1)
    app = create_app(database_url, tokens=TokenIssuer("online-payments-test-secret-32-bytes-long"))
    api_port = free_port()
    notify = f"http://127.0.0.1:{api_port}/api/v1/online-payments/notify"
    async with serving(sim.app) as sim_url, serving(alipay.app) as alipay_url:
        settings = WeChatSettings(**sim.keys.merchant_config(sim_url), timeout_s=PROVIDER_TIMEOUT_S,
                                  notify_url=f"{notify}/wechatpay", papay_plan_id=PLAN_ID,
                                  papay_notify_url=f"{notify}/wechatpay-papay")
        alipay_settings = AlipaySettings(**alipay.keys.merchant_config(alipay_url),
                                         timeout_s=PROVIDER_TIMEOUT_S, notify_url=f"{notify}/alipay")
        app.state.online_gateways = {Method.WECHAT: WeChatGateway(settings),
                                     Method.ALIPAY: AlipayGateway(alipay_settings),
                                     Method.AGREEMENT: PapayGateway(settings, PLAN_ID, settings.papay_notify_url)}
        async with serving(app, api_port) as url:
            links: list[HeadOfficeLink] = []
            keys: dict[tuple[str, ...] | None, str] = {}

            def provider(method: Method = Method.WECHAT, stations: list[str] | None = None) -> HeadOfficeProvider:
                scope = tuple(stations) if stations is not None else (STATION,)
                link = HeadOfficeLink(url, keys[scope], timeout_s=10)
                links.append(link)
                return HeadOfficeProvider(method, url, keys[scope], link=link)

            keys[(STATION,)] = await api_key(database_url, STATION)
            keys[("demo-02",)] = await api_key(database_url, "demo-02")
            yield HeadOffice(url, sim, sim_url, database_url, provider, alipay, alipay_url, app.state.online_gateways,
                             app)
            for link in links:
                await link.close()
            await sim.close()
            await alipay.close()
