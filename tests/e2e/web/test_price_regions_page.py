"""调价申请 by region and a new station's first prices in a real Chromium against head office (the demo company:
east = demo-01 with prices 92# 7.89 / 95# 8.36 in force, and demo-02 without prices yet; west = demo-03):

- choosing 华东区 reaches demo-01 (priced) and leaves demo-02 out with a note; the change records the region;
- choosing demo-02 on its own offers the grades its nozzles sell as 未定价（首次定价）; its first set is
  previewed without limits and sent as its version 1.
"""

from __future__ import annotations

from pathlib import Path

import httpx
from selenium import webdriver
from selenium.webdriver.common.keys import Keys

from tests.e2e.web.browsing import Page
from tests.e2e.web.conftest import RealSite
from tests.e2e.web.test_back_office import log_in
from tests.e2e.web.test_price_pages import _confirm, _open, _token, priced_site

__all__ = ["priced_site"]      # the fixture, used here by name


def _get(site: RealSite, path: str) -> dict[str, object]:
    answer = httpx.get(f"{site.url}{path}", headers={"Authorization": f"Bearer {_token(site, 'admin')}"})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_a_change_for_a_region_reaches_its_priced_stations(browser: webdriver.Chrome, priced_site: RealSite,
                                                           screenshots: Path) -> None:
    page = Page(browser, priced_site.url, screenshots)
    log_in(page, priced_site, "admin")
    _open(page, "调价申请", "/prices/change")
    page.click(".price-change [data-field=units]")
    page.click(".el-select-dropdown__item", "华东区 (含 2 个站点)")
    page.browser.switch_to.active_element.send_keys(Keys.ESCAPE)
    page.until(lambda: "7.89" in page.one(".grade-lines .el-table__body").text, "demo-01's prices offered")
    assert "未定价" not in page.one(".grade-lines .el-table__body").text     # demo-02 came only with the region
    page.one(".grade-lines input[name=price-92]").send_keys("7.95")
    page.one(".price-change input[name=reason]").send_keys("华东区调价")
    page.click(".price-change button.preview")
    page.one(".price-preview .within-limits")
    page.text_becomes(".price-preview .preview-stations", "调价站点：畅加测试站")
    assert "demo-02 还没有价格" in page.one(".price-preview .preview-notes").text
    _confirm(page, "华东区", "畅加测试站", "92号汽油 7.95 元")
    page.text_becomes(".change-result .result-state", "已下发")
    page.shot("prices-change-region")
    change_no = page.one(".change-result .result-no").text.split()[-1]
    detail = _get(priced_site, f"/api/v1/price-changes/{change_no}")
    assert (detail["units"], detail["stations"]) == (["east"], ["demo-01"])
    page.click(".change-result .open-change")                            # 调价记录 names the region
    page.text_becomes(".change-detail .change-units", "华东区")


def test_a_new_station_gets_its_first_prices(browser: webdriver.Chrome, priced_site: RealSite,
                                             screenshots: Path) -> None:
    page = Page(browser, priced_site.url, screenshots)
    log_in(page, priced_site, "admin")
    _open(page, "调价申请", "/prices/change")
    page.click(".price-change [data-field=stations]")
    page.click(".el-select-dropdown__item", "城东加气站 (demo-02)")
    page.browser.switch_to.active_element.send_keys(Keys.ESCAPE)
    assert "首次定价不受调价限额约束" in page.one(".price-change .first-set").text
    page.until(lambda: page.texts(".grade-lines .el-table__body tr td:nth-child(2)") == [
        "未定价（首次定价） 元/升", "未定价（首次定价） 元/升"], "demo-02's grades offered without a price")
    page.one(".price-change input[name=reason]").send_keys("新站开业")
    page.one(".grade-lines input[name=price-92]").send_keys("6.90")
    page.click(".price-change button.preview")
    page.until(lambda: "首次定价须为其全部油品定价，缺 95" in page.one(".change-error").text, "the page names the "
               "grade a first set is missing")
    page.one(".grade-lines input[name=price-95]").send_keys("12.90")
    page.click(".price-change button.preview")
    page.one(".price-preview .within-limits")                            # no old price: no limit applies
    assert "首次定价" in page.one(".price-preview .preview-notes").text
    assert page.texts(".preview-lines .new") == ["6.90", "12.90"]
    _confirm(page, "城东加气站", "95号汽油 12.90 元")
    page.text_becomes(".change-result .result-state", "已下发")
    page.shot("prices-first-set")
    prices = _get(priced_site, "/api/v1/stations/demo-02/prices")
    latest = prices["latest"]
    assert isinstance(latest, dict) and latest["version"] == 1 and latest["state"] == "applying"
