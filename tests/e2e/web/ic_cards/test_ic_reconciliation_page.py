"""IC 卡对账 in a real Chromium against head office: after two stations' purse reads and a load arrive through
head office's consumer, the finance user (card:read, no pii:read) finds 卡务管理 → IC 卡对账, sees the card
numbers masked, chip and mirror in 元 with the difference, and filters to the cards with a difference."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from selenium import webdriver

from business_services.bootstrap import build_bus
from business_services.consumer import EventConsumer
from business_services.ledger import repository as ledger
from business_services.ledger.model import purse_load_entry, recharge_entry
from business_services.unit_of_work import UnitOfWork
from forecourt.roles import Role, policy
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.events.ic_cards import IcPurseRead
from telemetry.contracts.events.payments import Method
from tests.e2e.web.browsing import Page
from tests.e2e.web.conftest import RealSite
from tests.e2e.web.test_back_office import log_in
from tests.integration.sales.payments_support import MANAGER

pytestmark = pytest.mark.e2e
EVEN, SHORT = "1000113200000001", "1000113200000002"
NOW = datetime(2026, 12, 5, 8, tzinfo=UTC)


async def _seed(url: str, broker: BrokerAddress) -> None:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        async with UnitOfWork(conn, MANAGER) as uow:
            await ledger.post(uow.conn, recharge_entry("R1", EVEN, 8000, 0, Method.CASH, "demo-01", "S1", NOW))
            await ledger.post(uow.conn, purse_load_entry("L1", EVEN, 5000, NOW, "demo-01"))
        consumer = EventConsumer(url, broker, bus=build_bus(policy(Role.HEAD_OFFICE).contexts))
        for card, fen in ((EVEN, 5000), (SHORT, 3000)):
            read = IcPurseRead(station="demo-01", card_no=card, balance_fen=fen, counter=1, grey=False, read_at=NOW)
            event = read.envelope(source="station:demo-01", event_id=read.event_id())
            await consumer.handle(conn, f"forecourt/v1/g/demo-01/events/{event.type}", event.to_bytes())


def test_finance_reconciles_ic_purses_with_masked_card_numbers(browser: webdriver.Chrome, real_site: RealSite,
                                                               broker: BrokerAddress, screenshots: Path) -> None:
    asyncio.run(_seed(real_site.database_url, broker))
    page = Page(browser, real_site.url, screenshots)
    log_in(page, real_site, "finance")
    page.click(".modules .el-menu-item", "卡务管理")
    page.click(".side .el-menu-item", "IC 卡对账")
    page.until(lambda: "/admin/cards/ic-reconciliation" in browser.current_url, "on the reconciliation page")
    page.until(lambda: len(page.first_cells()) == 2, "both cards")
    assert sorted(page.first_cells()) == ["1000********0001", "1000********0002"]       # masked: no pii:read
    rows = {r.find_element("css selector", "td:first-child .cell").text: r.text
            for r in page.all(".list-page .el-table__body tr.el-table__row")}
    assert "50.00" in rows["1000********0001"] and "30.00" in rows["1000********0002"]
    page.shot("ic-reconciliation")
    page.click(".list-page [data-filter=differences_only]")
    page.click(".el-select-dropdown__item", "是")
    page.until(lambda: page.first_cells() == ["1000********0002"], "only the card with a difference")
