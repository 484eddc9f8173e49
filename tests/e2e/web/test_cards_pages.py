"""卡务管理 in a real Chromium against head office: the finance user (card:write, no pii:read) creates a card type
on 卡类型与充值优惠, sees the recharge offer 充500送50, issues a card on 卡片列表 (its number masked), recharges it
500 元 with the offer shown in the dialog as the amount is typed, and sees 550.00 on the row and the recharge in
卡详情's statement; the ledger holds the card's 550 元 and the bonus once."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import psycopg
import pytest
from selenium import webdriver
from selenium.webdriver.common.keys import Keys

from business_services.cards.model import luhn_valid
from tests.e2e.web.browsing import Page
from tests.e2e.web.conftest import RealSite
from tests.e2e.web.test_back_office import log_in
from tests.integration.cards.support import balances

pytestmark = pytest.mark.e2e

ROWS = ".list-page .el-table__body tr.el-table__row"


def _token(site: RealSite, username: str) -> dict[str, str]:
    answer = httpx.post(f"{site.url}/api/v1/auth/token",
                        data={"username": username, "password": site.logins[username].password})
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def _rows(database_url: str, sql: str) -> list[tuple[object, ...]]:
    with psycopg.connect(database_url) as conn:
        return [tuple(r) for r in conn.execute(sql)]   # type: ignore[call-overload]


def test_finance_issues_a_card_and_recharges_it_with_an_offer(browser: webdriver.Chrome, real_site: RealSite,
                                                              screenshots: Path) -> None:
    offer = httpx.post(f"{real_site.url}/api/v1/card-offers", headers=_token(real_site, "finance"),
                       json={"name": "充500送50", "min_paid_fen": 50000, "bonus_fen": 5000,
                             "starts_on": "2026-01-01", "ends_on": "2099-12-31"})
    assert offer.status_code == 201, offer.text
    page = Page(browser, real_site.url, screenshots)
    log_in(page, real_site, "finance")
    page.click(".modules .el-menu-item", "卡务管理")
    page.click(".side .el-menu-item", "卡类型与充值优惠")
    page.until(lambda: browser.current_url.endswith("/admin/cards/types"), "on the card types page")
    page.until(lambda: any("充500送50" in r.text for r in page.all(ROWS)), "the offer is listed")

    page.click(".list-page .toolbar .create")                    # the first list: card types
    page.one(".list-form input[name=code]").send_keys("chain-sv")
    page.one(".list-form input[name=name]").send_keys("连锁储值卡")
    page.one(".list-form input[name=prefix]").send_keys("886", Keys.ENTER)        # 3 digits: the server says why
    page.until(lambda: page.all(".list-form .el-form-item__error"), "the prefix refused on its field")
    page.one(".list-form input[name=prefix]").send_keys("1", Keys.ENTER)
    page.until(lambda: not page.all(".list-form"), "the dialog closed after saving")
    page.until(lambda: any("chain-sv" in r.text for r in page.all(ROWS)), "the type is listed")

    page.click(".side .el-menu-item", "卡片列表")
    page.until(lambda: browser.current_url.endswith("/admin/cards/list"), "on the card list")
    page.text_becomes(".list-page .pager .total", "共 0 条")
    page.click(".card-toolbar .issue-one")
    page.click(".issue-form [data-field=card_type]")
    page.click(".el-select-dropdown__item", "连锁储值卡 · chain-sv")
    page.click(".issue-form [data-field=station]")
    page.click(".el-select-dropdown__item", "畅加测试站 · demo-01")
    page.click(".issue-form .save")
    page.until(lambda: not page.all(".issue-form"), "the issue dialog closed")
    page.text_becomes(".list-page .pager .total", "共 1 条")
    ((card_no,),) = _rows(real_site.database_url, "SELECT card_no FROM business.cards")
    assert luhn_valid(str(card_no))
    row = page.one(ROWS).text
    assert f"8861********{str(card_no)[-4:]}" in row and str(card_no) not in row     # masked: no pii:read

    page.click(f"{ROWS} .recharge", "充值")
    page.one(".recharge-form input[name=paid]").send_keys("499")
    page.text_becomes(".recharge-form .no-offer", "无适用优惠")
    page.one(".recharge-form input[name=paid]").send_keys(Keys.CONTROL, "a")
    page.one(".recharge-form input[name=paid]").send_keys("500")
    page.text_becomes(".recharge-form .offer", "充500送50：赠送 50.00 元")
    page.shot("card-recharge-offer")
    page.one(".recharge-form input[name=paid]").send_keys(Keys.ENTER)
    page.until(lambda: not page.all(".recharge-form"), "the recharge dialog closed")
    page.until(lambda: "550.00" in page.one(ROWS).text, "the row shows the balance with the bonus")

    page.click(f"{ROWS} .open-detail", "卡详情")
    page.until(lambda: "/admin/cards/detail?card=" in browser.current_url, "on the card's page")
    page.text_becomes(".card-detail .balance", "550.00")
    page.until(lambda: "充值" in page.one(".card-detail .statement").text and
               "550.00" in page.one(".card-detail .statement").text, "the statement shows the recharge")
    page.until(lambda: "充500送50" in page.one(".card-detail .recharges").text, "the recharge names its offer")
    page.shot("card-detail")
    assert _rows(real_site.database_url, "SELECT paid_fen, bonus_fen FROM business.card_recharges") == [(50000, 5000)]
    codes = (f"card:{card_no}", "marketing:recharge-bonus")
    assert asyncio.run(balances(real_site.database_url, *codes)) == dict(zip(codes, (55000, 5000), strict=True))
