"""车队管理 → 开放接口与推送 and 企业门户 in a real Chromium against head office: the fleet manager opens an
enterprise, binds the demo's fleetclient to it and issues an API key (shown once, and it works at once); then
fleetclient logs in and sees its enterprise's debt, vehicle (plate masked) and fuellings, and nothing of another
enterprise."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.common.keys import Keys

from tests.e2e.web.browsing import Page
from tests.e2e.web.conftest import RealSite
from tests.e2e.web.test_back_office import log_in
from tests.integration.fleets.open_api_support import fleet, sale

pytestmark = pytest.mark.e2e
AT = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)


def test_a_fleet_manager_issues_a_key_and_the_enterprise_user_sees_its_own_portal(
        browser: webdriver.Chrome, real_site: RealSite, screenshots: Path) -> None:
    url = real_site.database_url
    mine, (truck,) = asyncio.run(fleet(url, "顺达物流", ["粤B12345"]))
    theirs, (other,) = asyncio.run(fleet(url, "远通运输", ["沪A67890"]))
    asyncio.run(sale(url, mine, truck, "粤B12345", 43210, AT))
    asyncio.run(sale(url, theirs, other, "沪A67890", 98760, AT))
    page = Page(browser, real_site.url, screenshots)
    log_in(page, real_site, "fleet")
    page.click(".modules .el-menu-item", "车队管理")
    page.click(".side .el-menu-item", "开放接口与推送")
    page.until(lambda: browser.current_url.endswith("/admin/fleets/partner-keys"), "on the partner keys page")
    page.one(".fleet-partners input[name=enterprise]").send_keys(mine, Keys.ENTER)
    page.until(lambda: page.all(".fleet-partners .create-key"), "the enterprise opened")
    page.one(".fleet-partners input[name=username]").send_keys("fleetclient", Keys.ENTER)
    page.until(lambda: "fleetclient" in page.one(".portal-users").text, "fleetclient bound")
    page.click(".fleet-partners .create-key")
    key = page.until(lambda: page.all(".shown-value") and page.one(".shown-value").text, "the new key shown once")
    assert key.startswith("fck_")
    page.until(lambda: len(page.all(".keys .el-table__body tr")) == 1, "the key listed, by its prefix")
    assert key not in page.one(".keys").text
    answer = httpx.get(f"{real_site.url}/api/v1/open/fleet/fuellings", headers={"X-API-Key": key})
    assert answer.status_code == 200 and [f["amount_fen"] for f in answer.json()["items"]] == [43210]
    page.shot("fleet-partner-keys")

    page.click(".topbar .user")
    page.click(".logout")
    page.keyboard_login("fleetclient", real_site.logins["fleetclient"].password)
    page.until(lambda: page.all(".topbar .user-name"), "fleetclient signed in")
    page.click(".modules .el-menu-item", "车队管理")
    page.click(".side .el-menu-item", "企业门户")
    page.text_becomes(".fleet-portal .enterprise-name", "顺达物流")
    page.text_becomes(".fleet-portal .debt", "432.10")
    page.until(lambda: "粤B****5" in page.one(".fleet-portal .vehicles").text, "its vehicle, plate masked")
    page.until(lambda: "432.10" in page.one(".fleet-portal .fuellings").text, "its fuelling")
    whole = page.one(".fleet-portal").text
    assert "粤B12345" not in whole and "沪A" not in whole and "987.60" not in whole and "远通" not in whole
    page.click(".fleet-portal .show-trail")
    page.until(lambda: "demo-01" in page.one(".fleet-portal .trail").text or
               "畅加测试站" in page.one(".fleet-portal .trail").text, "the vehicle's trajectory")
    page.shot("fleet-portal")
