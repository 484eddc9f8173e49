"""资金账户 in a real Chromium against head office (create_app on a test database holding the demo company):
head office's back office shows 资金账户 and not the station's 交接班; after payments and a refund of demo-01
are delivered through head office's consumer (as tests/integration/sales/test_ledger.py does), the finance
user sees the accounts with balances in 元 and kinds in Chinese, filters them by kind, reads an account's
statement (newest first, debit and credit columns, 加载更多 for the older ones) and the 试算平衡 panel shows
平衡."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
import pytest
from selenium import webdriver

from business_services.bootstrap import build_bus
from business_services.consumer import EventConsumer
from forecourt.roles import Role, policy
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.events.payments import Allocation, Method, PaymentCaptured, PaymentRefunded
from tests.e2e.web.browsing import Page
from tests.e2e.web.conftest import RealSite
from tests.e2e.web.test_back_office import log_in

pytestmark = pytest.mark.e2e

STATION = "demo-01"
SHIFT = "demo-01-20261204-S00001"
START = datetime(2026, 12, 4, 8, tzinfo=UTC)
PAYMENTS = 23          # cash payments into the shift's drawer: more than one page (20) of its statement


def _captured(n: int, method: Method, fen: int) -> PaymentCaptured:
    return PaymentCaptured(payment_no=f"{STATION}-20261204-P{n:05d}", station=STATION, shift_no=SHIFT,
                           terminal="pos-1", cashier="cashier", method=method, amount_fen=fen,
                           allocations=(Allocation(order_no=f"{STATION}-20261204-O{n:05d}", amount_fen=fen),),
                           captured_at=START + timedelta(minutes=n))


async def _deliver(database_url: str, broker: BrokerAddress) -> None:
    consumer = EventConsumer(database_url, broker, bus=build_bus(policy(Role.HEAD_OFFICE).contexts))
    refund = PaymentRefunded(refund_no=f"{STATION}-20261204-R00001", payment_no=f"{STATION}-20261204-P00001",
                             station=STATION, shift_no=SHIFT, method=Method.CASH, amount_fen=700,
                             allocations=(Allocation(order_no=f"{STATION}-20261204-O00001", amount_fen=700),),
                             reason="多收", refunded_by="manager", refunded_at=START + timedelta(hours=1))
    payloads = [*(_captured(n, Method.CASH, 10000 + n) for n in range(1, PAYMENTS + 1)),
                _captured(PAYMENTS + 1, Method.WECHAT, 15000), refund]
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        for payload in [*payloads, payloads[0]]:                                 # the first delivered twice
            event = payload.envelope(source=f"station:{STATION}", event_id=payload.event_id())
            await consumer.handle(conn, f"forecourt/v1/g/{STATION}/events/{event.type}", event.to_bytes())


def _fen_in_yuan(fen: int) -> str:
    return f"{fen // 100:,}.{fen % 100:02d}"


def test_head_office_menu_shows_the_ledger_and_not_shifts(real_site: RealSite) -> None:
    token = httpx.post(f"{real_site.url}/api/v1/auth/token", data={
        "username": "admin", "password": real_site.logins["admin"].password}).json()["access_token"]
    me = httpx.get(f"{real_site.url}/api/v1/me", headers={"Authorization": f"Bearer {token}"}).json()
    paths = {c["path"] for g in me["menus"] for c in g["children"]}
    assert "/finance/accounts" in paths and "/sales/shifts" not in paths


def test_finance_sees_accounts_a_statement_and_the_trial_balance(browser: webdriver.Chrome, real_site: RealSite,
                                                                 broker: BrokerAddress, screenshots: Path) -> None:
    asyncio.run(_deliver(real_site.database_url, broker))
    drawer_fen = sum(10000 + n for n in range(1, PAYMENTS + 1)) - 700
    page = Page(browser, real_site.url, screenshots)
    log_in(page, real_site, "finance")
    page.click(".modules .el-menu-item", "财务管理")
    page.click(".side .el-menu-item", "资金账户")
    page.until(lambda: "/admin/finance/accounts" in browser.current_url, "on the accounts page")

    page.text_becomes(".trial-balance .trial-state", "平衡")
    assert set(page.texts(".trial-balance .difference")) == {"0.00"}
    drawer, clearing, sales = f"drawer:{STATION}:{SHIFT}", f"clearing:wechat:{STATION}", f"sales:{STATION}"
    page.until(lambda: sorted(page.first_cells()) == sorted([drawer, clearing, sales]), "the three accounts")
    rows = {r.find_element("css selector", "td:first-child .cell").text: r.text
            for r in page.all(".list-page .el-table__body tr.el-table__row")}
    assert "资产" in rows[drawer] and _fen_in_yuan(drawer_fen) in rows[drawer]
    assert "收入" in rows[sales] and _fen_in_yuan(drawer_fen + 15000) in rows[sales]
    assert "150.00" in rows[clearing]
    page.shot("finance-accounts")

    page.click(".list-page [data-filter=kind]")                # filter: 收入 only
    page.click(".el-select-dropdown__item", "收入")
    page.until(lambda: page.first_cells() == [sales], "only the revenue account")
    page.click(".list-page .filters button", "重置")
    page.until(lambda: len(page.first_cells()) == 3, "all accounts again")

    row = next(r for r in page.all(".list-page .el-table__body tr.el-table__row") if r.text.startswith(drawer))
    row.find_element("css selector", ".show").click()
    page.until(lambda: len(page.all(".statement .el-table__body tr.el-table__row")) == 20, "the first 20 postings")
    page.texts_become(".statement .el-table__body tr.el-table__row:first-child .credit", ["7.00"])  # newest: refund
    debits = page.texts(".statement .debit")                 # (an empty cell is not shown)
    assert len(debits) == 19 and debits[0] == _fen_in_yuan(10000 + PAYMENTS)   # then the payments, newest first
    page.click(".load-more")
    page.until(lambda: len(page.all(".statement .el-table__body tr.el-table__row")) == PAYMENTS + 1,
               "every posting after 加载更多")
    debits = page.texts(".statement .debit")
    assert len(debits) == PAYMENTS and debits[-1] == _fen_in_yuan(10001)   # the oldest last, posted once
    page.until(lambda: not page.all(".load-more"), "nothing more to load")
    page.shot("finance-statement")
