"""车队卡 in a real Chromium against head office: the fleet manager (fleet:write, no pii:read) issues a vehicle card
with a 300-yuan daily limit to an enterprise from the keyboard, sees it listed with its plate masked, lets it pay by
its plate (车牌付款), freezes it with a reason; the database holds the card, its whitelisted vehicle, and the
change and the freeze in the audit chain."""

from __future__ import annotations

import asyncio
from pathlib import Path

import psycopg
import pytest
from selenium import webdriver
from selenium.webdriver.common.keys import Keys

from business_services.fleets.cards import fleet_card_no
from tests.e2e.web.browsing import Page
from tests.e2e.web.conftest import RealSite
from tests.e2e.web.test_back_office import log_in
from tests.support.fleets import make_enterprise

pytestmark = pytest.mark.e2e

ROWS = ".list-page .el-table__body tr.el-table__row"


async def _enterprise(database_url: str) -> str:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        return await make_enterprise(conn, code="E000321", credit_limit_fen=800000)


def _rows(database_url: str, sql: str) -> list[tuple[object, ...]]:
    with psycopg.connect(database_url) as conn:
        return [tuple(r) for r in conn.execute(sql)]   # type: ignore[call-overload]


def test_the_fleet_manager_issues_and_freezes_a_vehicle_card(browser: webdriver.Chrome, real_site: RealSite,
                                                              screenshots: Path) -> None:
    enterprise = asyncio.run(_enterprise(real_site.database_url))
    page = Page(browser, real_site.url, screenshots)
    log_in(page, real_site, "fleet")
    page.click(".modules .el-menu-item", "车队管理")
    page.click(".side .el-menu-item", "车队卡")
    page.until(lambda: browser.current_url.endswith("/admin/fleets/cards"), "on the fleet cards page")
    page.text_becomes(".list-page .pager .total", "共 0 条")

    page.click(".card-toolbar .issue-fleet-card")
    page.one(".fleet-card-form input[name=enterprise]").send_keys(enterprise)
    page.one(".fleet-card-form input[name=plate]").send_keys("沪A12345")
    page.one(".fleet-card-form input[name=daily]").send_keys("300")
    page.one(".fleet-card-form input[name=fills_per_day]").send_keys("3", Keys.ENTER)
    page.until(lambda: not page.all(".fleet-card-form"), "the issue dialog closed")
    page.text_becomes(".list-page .pager .total", "共 1 条")
    card_no = fleet_card_no(enterprise, 1)
    row = page.one(ROWS).text
    assert "沪A****5" in row and "沪A12345" not in row and card_no not in row     # masked: no pii:read
    assert "日限额（元） 300.00" in row and "8,000.00" in row                      # the limit; the credit left

    page.click(f"{ROWS} .drive-through", "开通车牌付款")                     # 车牌无感支付 on the vehicle card
    page.until(lambda: page.all(f"{ROWS} .drive-through") and "关闭车牌付款" in page.one(f"{ROWS} .drive-through").text,
               "the row offers to switch it off")
    page.click(f"{ROWS} .freeze", "冻结")
    page.one(".fleet-card-action-form input[name=reason]").send_keys("司机离职", Keys.ENTER)
    page.until(lambda: not page.all(".fleet-card-action-form"), "the freeze dialog closed")
    page.until(lambda: "冻结" in page.one(ROWS).text and page.all(f"{ROWS} .unfreeze"), "the row shows 冻结")
    page.shot("fleet-cards")

    assert _rows(real_site.database_url, "SELECT card_no, status, daily_fen, fills_per_day, drive_through "
                                         "FROM business.fleet_cards") == [(card_no, "frozen", 30000, 3, True)]
    assert _rows(real_site.database_url, "SELECT v.plate FROM business.vehicles v JOIN business.fleet_enterprises e "
                                         "ON e.id = v.fleet_id") == [("沪A12345",)]
    assert _rows(real_site.database_url, "SELECT action FROM business.audit_log WHERE action LIKE 'fleet.card.%' "
                                         "ORDER BY seq") == [("fleet.card.issue",), ("fleet.card.drive_through",),
                                                             ("fleet.card.freeze",)]
