"""油罐渗漏检测 in a real Chromium against the real API: the daily job's verdict for a leaking tank of demo-01
(its days from the wet-stock simulator, through the real job), a tank without enough days, and a role without
``inventory:read`` refused at the typed-in address."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from selenium import webdriver

from business_services.inventory.leak_job import run_leak_tests
from simulators.tank_gauge.wetstock import WetStockConditions, simulate_days
from tests.e2e.web.browsing import Page
from tests.e2e.web.conftest import RealSite
from tests.e2e.web.test_back_office import log_in
from tests.integration.inventory.test_leak_tests import LAST_DAY, NOW, reconciled_days

pytestmark = pytest.mark.e2e


def _leaking_tank(database_url: str) -> None:
    async def run() -> None:
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            await reconciled_days(conn, "demo-01", {1: simulate_days(1, 3.0, 7, WetStockConditions(days=40))},
                                  LAST_DAY)
            assert await run_leak_tests(conn, NOW) == 1
    asyncio.run(run())


def test_the_verdict_the_rule_and_a_tank_without_days(browser: webdriver.Chrome, real_site: RealSite,
                                                      screenshots: Path) -> None:
    _leaking_tank(real_site.database_url)
    page = Page(browser, real_site.url, screenshots)
    log_in(page, real_site, "manager")
    page.click(".modules .el-menu-item", "油品库存")
    page.click(".side .el-menu-item", "油罐渗漏检测")
    page.text_becomes(".leak-latest .leak-verdict", "未通过 (fail)")
    assert "40 天" in page.one(".leak-latest").text
    assert page.texts(".leak-history .el-table__body tr td:first-child .cell") == [LAST_DAY.isoformat()]
    assert "MDLR ≤ 0.76 L/h" in page.one(".leak-rule").text
    page.shot("leak-test-fail")

    page.click(".tank-number .el-input-number__increase")
    page.until(lambda: "需要至少 30 天" in page.one(".leak-message").text, "tank 2 has no days")
    assert not page.all(".leak-latest")


def test_a_role_without_report_read_is_refused(browser: webdriver.Chrome, real_site: RealSite,
                                               screenshots: Path) -> None:
    page = Page(browser, real_site.url, screenshots)
    log_in(page, real_site, "attendant")
    page.open("/admin/inventory/leak-tests")
    page.until(lambda: "无权访问此页面" in browser.page_source, "refused")
    assert datetime.now(UTC) > NOW     # the job's "now" is in the past: nothing here depends on today's date
