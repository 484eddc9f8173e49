"""车队企业 in a real Chromium against the real head-office API: the fleet manager creates an enterprise in the
list's dialog by keyboard (it waits for review), finance approves it, the manager recharges it on its page and
sees the balance from the ledger; an enterprise over its warning share of the credit line is flagged on the
list and bannered on its page; the manager freezes two enterprises at once (asked for review); the list's
totals follow the filter; the attendant has no fleet menu."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg
import pytest
from selenium import webdriver
from selenium.webdriver.common.keys import Keys

from business_services.ledger import repository as ledger
from business_services.ledger.model import fleet_payment_entry
from tests.e2e.web.browsing import Page
from tests.e2e.web.conftest import RealSite
from tests.e2e.web.test_back_office import log_in

pytestmark = pytest.mark.e2e

ROWS = ".enterprise-list .el-table__body tr.el-table__row"


def _token(site: RealSite, username: str) -> dict[str, str]:
    answer = httpx.post(f"{site.url}/api/v1/auth/token",
                        data={"username": username, "password": site.logins[username].password})
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def _approve_all(site: RealSite) -> int:
    """Finance approves every pending request in its inbox; how many."""
    finance = _token(site, "finance")
    inbox = httpx.get(f"{site.url}/api/v1/approvals/inbox", headers=finance).json()["items"]
    for request in inbox:
        answer = httpx.post(f"{site.url}/api/v1/approvals/{request['id']}/approve", headers=finance, json={})
        assert answer.status_code == 200, answer.text
    return len(inbox)


def _scalar(database_url: str, sql: str) -> object:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(sql).fetchone()   # type: ignore[call-overload]
        return None if row is None else row[0]


async def _sell_on_credit(database_url: str, code: str, fen: int) -> None:
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        await ledger.post(conn, fleet_payment_entry("demo-01", f"demo-01-20261204-P{fen}", code, None, fen,
                                                    datetime.now(UTC)))


def test_create_approve_recharge_warn_and_freeze_in_batch(browser: webdriver.Chrome, real_site: RealSite,
                                                          screenshots: Path) -> None:
    fleet = _token(real_site, "fleet")
    credit = httpx.post(f"{real_site.url}/api/v1/fleet-enterprises",
                        headers=fleet | {"Idempotency-Key": "fleets-e2e-0001"},
                        json={"name": "远通危化品运输", "maintaining_station": "demo-01", "settlement": "credit",
                              "credit_limit_fen": 1_000_000, "warn_pct": 80, "customer_code": "YT-01"})
    assert credit.status_code == 200, credit.text
    page = Page(browser, real_site.url, screenshots)
    log_in(page, real_site, "fleet")
    page.click(".modules .el-menu-item", "车队管理")
    page.click(".side .el-menu-item", "车队企业")
    page.until(lambda: browser.current_url.endswith("/admin/fleets/enterprises"), "on the enterprise list")
    page.until(lambda: len(page.all(ROWS)) == 1 and "待审核" in page.one(ROWS).text, "the credit one, pending")

    page.click(".enterprise-list .toolbar .create")
    page.one(".enterprise-form input[name=name]").send_keys("顺达物流有限公司", Keys.ENTER)
    page.until(lambda: not page.all(".enterprise-form"), "the dialog closed after creating")
    page.until(lambda: len(page.all(ROWS)) == 2, "two enterprises listed")
    assert "E000002" in page.all(ROWS)[1].text and "待审核" in page.all(ROWS)[1].text
    assert _approve_all(real_site) == 2

    asyncio.run(_sell_on_credit(real_site.database_url, "E000001", 850_000))   # 85% of the line: over 80%
    page.click(".enterprise-list .filters button[type=submit]")
    page.until(lambda: "超限" in page.all(ROWS)[0].text and "超限" not in page.all(ROWS)[1].text,
               "the indebted one flagged, the other not")
    page.text_becomes(".enterprise-list .totals .count", "合计 2 家")
    page.text_becomes(".enterprise-list .totals .total-debt", "8,500.00")
    page.text_becomes(".enterprise-list .totals .total-remaining", "1,500.00")

    page.click(f"{ROWS} .open-detail")
    page.until(lambda: browser.current_url.endswith("/admin/fleets/detail?enterprise=E000001"), "on its page")
    page.until(lambda: "8,500.00" in page.one(".enterprise-detail .over-banner").text, "the over-limit banner")
    page.open("/admin/fleets/detail?enterprise=E000002")
    page.text_becomes(".enterprise-detail .title small", "E000002")
    assert not page.all(".enterprise-detail .over-banner")
    page.click(".enterprise-detail .actions .recharge")
    page.one(".money-form input[name=amount]").send_keys("1000")
    page.one(".money-form input[name=gift]").send_keys("50", Keys.ENTER)
    page.until(lambda: not page.all(".money-form"), "the recharge dialog closed")
    page.text_becomes(".enterprise-detail .money .prepaid", "1,000.00")
    page.text_becomes(".enterprise-detail .money .gift", "50.00")
    page.until(lambda: "充值" in page.one(".enterprise-detail .statement").text, "the statement row")
    assert _scalar(real_site.database_url, "SELECT count(*) FROM business.ledger_entries "
                                           "WHERE kind = 'fleet.recharged'") == 1
    page.shot("enterprise-detail")

    page.open("/admin/fleets/enterprises")
    page.until(lambda: len(page.all(ROWS)) == 2, "both listed")
    for checkbox in page.all(f"{ROWS} .el-checkbox"):
        checkbox.click()
    page.text_becomes(".enterprise-list .toolbar .selected", "已选 2 家")
    page.click(".enterprise-list .toolbar .batch-freeze")
    page.one(".status-form input[name=note]").send_keys("逾期未付款", Keys.ENTER)
    page.until(lambda: not page.all(".status-form"), "the freeze asked for review")
    assert _scalar(real_site.database_url, "SELECT count(*) FROM business.fleet_enterprise_changes "
                                           "WHERE kind = 'freeze' AND state = 'pending'") == 2
    assert _approve_all(real_site) == 2
    page.click(".enterprise-list .filters button[type=submit]")
    page.until(lambda: all("冻结" in r.text for r in page.all(ROWS)), "both frozen after review")
    page.shot("enterprise-list")

    browser.execute_script("sessionStorage.clear()")
    log_in(page, real_site, "attendant")
    assert "车队管理" not in page.texts(".modules .el-menu-item")
