"""The back office in a real Chromium: keyboard login, the frame renders the menus it is given, the
list-page pattern (sort, cursor paging, drawer, form with the server's field error), logout, and a
wrong password shown on the form. Every asset must come from 127.0.0.1 (no CDN)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.common.exceptions import (
    ElementClickInterceptedException,
    ElementNotInteractableException,
    StaleElementReferenceException,
    TimeoutException,
)
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from tests.e2e.web.conftest import Site
from tests.e2e.web.contract_app import (
    DUPLICATE_CODE,
    MENUS,
    PASSWORD,
    USERNAME,
    WRONG_PASSWORD_DETAIL,
    seed_devices,
)

pytestmark = pytest.mark.e2e


# a re-render may replace an element being read; a fading mask or an opening menu may be in the way
RETRIED = (StaleElementReferenceException, ElementClickInterceptedException, ElementNotInteractableException)


class Page:
    """Small helpers over one browser: find by CSS, wait for a condition, read texts."""

    def __init__(self, browser: webdriver.Chrome, site: Site, screenshots: Path) -> None:
        self.browser, self.site, self.screenshots = browser, site, screenshots

    def open(self, path: str) -> None:
        self.browser.get(self.site.url + path)

    def until(self, condition: Callable[[], Any], what: str, timeout: float = 30) -> Any:
        try:
            return WebDriverWait(self.browser, timeout, ignored_exceptions=RETRIED).until(
                lambda _b: condition(), message=what)
        except TimeoutException:
            self.browser.save_screenshot(str(self.screenshots / "failed.png"))
            raise AssertionError(f"{what}: not so after {timeout} s at {self.browser.current_url} "
                                 f"(screenshot {self.screenshots / 'failed.png'})") from None

    def all(self, css: str) -> list[WebElement]:
        return [e for e in self.browser.find_elements(By.CSS_SELECTOR, css) if e.is_displayed()]

    def one(self, css: str) -> WebElement:
        return self.until(lambda: (self.all(css) or [None])[0], f"{css} shown")  # type: ignore[no-any-return]

    def click(self, css: str, text: str | None = None) -> None:
        """Click the first shown element (with this text), retrying while something is in the way."""
        def clicked() -> bool:
            element = next((e for e in self.all(css) if text is None or e.text.strip() == text), None)
            if element is not None:
                element.click()
            return element is not None
        self.until(clicked, f"{css} {text or ''} clicked")

    def texts(self, css: str) -> list[str]:
        return [e.text.strip() for e in self.all(css)]

    def text_becomes(self, css: str, expected: str) -> None:
        self.until(lambda: expected in self.texts(css), f"{css} shows {expected!r} (it shows {self.texts(css)})")

    def first_codes(self) -> list[str]:
        return self.texts(".list-page .el-table__body tr.el-table__row td:first-child .cell")

    def keyboard_login(self, password: str) -> None:
        """User name, Tab, password, Enter: no mouse."""
        self.until(lambda: self.browser.switch_to.active_element.get_attribute("name") == "username",
                   "the user name box has the focus")
        self.browser.switch_to.active_element.send_keys(USERNAME, Keys.TAB)
        focused = self.browser.switch_to.active_element
        assert focused.get_attribute("name") == "password"
        focused.send_keys(password, Keys.ENTER)


def assert_all_assets_local(page: Page) -> None:
    loaded = page.browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert loaded, "the page loaded no resources"
    assert all(url.startswith(page.site.url + "/") for url in loaded), loaded


def test_keyboard_login_menus_list_page_and_logout(browser: webdriver.Chrome, site: Site, screenshots: Path) -> None:
    page = Page(browser, site, screenshots)
    devices = seed_devices()
    page.open("/admin/equipment/devices")                      # a deep link without a token → login
    page.until(lambda: "/admin/login" in browser.current_url, "sent to the login page")
    browser.save_screenshot(str(screenshots / "admin-login.png"))
    page.keyboard_login(PASSWORD)

    # back where the user was going, in the frame, with exactly the menus /api/v1/me gave
    page.until(lambda: browser.current_url.endswith("/admin/equipment/devices"), "back at the deep link")
    page.until(lambda: page.texts(".modules .el-menu-item") == [m["title"] for m in MENUS], "the module bar")
    assert page.texts(".side .el-menu-item") == [c["title"] for c in MENUS[0]["children"]]
    assert page.texts(".topbar .user-name") == ["张三"]
    page.text_becomes(".tabs .el-tabs__item", "设备管理")
    page.text_becomes(".list-page .pager .total", f"共 {len(devices)} 条")
    assert page.first_codes() == [d["code"] for d in devices[:20]]      # the server's order until sorted

    # sort on the server: ascending, then descending
    by_code = sorted(d["code"] for d in devices)
    page.click(".list-page th.is-sortable .sort-caret.ascending")
    page.until(lambda: page.first_codes() == by_code[:20], "sorted by code, ascending")
    page.click(".list-page th.is-sortable .sort-caret.descending")
    page.until(lambda: page.first_codes() == by_code[::-1][:20], "sorted by code, descending")

    # cursor paging keeps the sort; back again
    page.click(".list-page .pager .next")
    page.until(lambda: page.first_codes() == by_code[::-1][20:40], "page 2")
    page.text_becomes(".list-page .pager .page-number", "第 2 页")
    page.click(".list-page .pager .previous")
    page.until(lambda: page.first_codes() == by_code[::-1][:20], "page 1 again")

    # the detail drawer shows the row; Esc closes it
    page.click(".list-page .el-table__body tr.el-table__row .show")
    drawer = page.one(".el-drawer")
    page.until(lambda: by_code[-1] in drawer.text and "设备详情" in drawer.text, "the drawer shows the device")
    browser.save_screenshot(str(screenshots / "admin-drawer.png"))
    browser.switch_to.active_element.send_keys(Keys.ESCAPE)
    page.until(lambda: not page.all(".el-drawer"), "the drawer closed")

    # create: the server's field error shows under the field; a good code saves and the list grows
    page.click(".list-page .toolbar .create")
    page.one(".list-form input[name=code]").send_keys(by_code[0])
    page.one(".list-form input[name=name]").send_keys("9号加油机")
    page.click(".list-form .el-select")
    page.click(".el-select-dropdown__item", "加油机")
    page.one(".list-form input[name=station]").send_keys("demo-01", Keys.ENTER)
    page.text_becomes(".list-form .el-form-item__error", DUPLICATE_CODE)
    browser.save_screenshot(str(screenshots / "admin-form-error.png"))
    code_box = page.one(".list-form input[name=code]")
    code_box.send_keys(Keys.CONTROL, "a")
    code_box.send_keys("dev-new", Keys.ENTER)
    page.until(lambda: not page.all(".list-form"), "the dialog closed after saving")
    page.text_becomes(".list-page .pager .total", f"共 {len(devices) + 1} 条")
    assert [d["code"] for d in site.app.state.devices].count("dev-new") == 1   # saved once, not twice

    # another module's menu, another tab
    page.click(".modules .el-menu-item", MENUS[1]["title"])
    page.until(lambda: page.texts(".side .el-menu-item") == [c["title"] for c in MENUS[1]["children"]], "module 2")
    page.click(".side .el-menu-item")
    page.until(lambda: page.texts(".tabs .el-tabs__item") == ["工作台", "设备管理", "站点管理"], "a third tab")
    browser.save_screenshot(str(screenshots / "admin-no-page-yet.png"))
    page.click(".tabs .el-tabs__item", "设备管理")
    page.until(lambda: browser.current_url.endswith("/admin/equipment/devices"), "the devices tab again")
    browser.save_screenshot(str(screenshots / "admin-devices.png"))
    assert_all_assets_local(page)

    # an open tab keeps its page (page 2 stays page 2); closing the tab drops it (reopened: page 1)
    page.click(".list-page .pager .next")
    page.text_becomes(".list-page .pager .page-number", "第 2 页")
    page.click(".tabs .el-tabs__item", "站点管理")
    page.until(lambda: not page.all(".list-page"), "on the stations tab")
    page.click(".tabs .el-tabs__item", "设备管理")
    page.text_becomes(".list-page .pager .page-number", "第 2 页")
    page.click(".tabs .el-tabs__item.is-active .is-icon-close")
    page.until(lambda: page.texts(".tabs .el-tabs__item") == ["工作台", "站点管理"], "the devices tab closed")
    page.click(".modules .el-menu-item", MENUS[0]["title"])
    page.click(".side .el-menu-item", "设备管理")
    page.text_becomes(".list-page .pager .page-number", "第 1 页")
    page.until(lambda: page.first_codes() == [d["code"] for d in devices[:20]], "unsorted again")

    # logout: back to the login page, and the pages need a login again
    page.click(".topbar .user")
    page.click(".logout")
    page.until(lambda: "/admin/login" in browser.current_url, "logged out")
    page.open("/admin/equipment/devices")
    page.until(lambda: "/admin/login?redirect=" in browser.current_url, "guarded after logout")


def test_wrong_password_shows_the_error_on_the_form(browser: webdriver.Chrome, site: Site, screenshots: Path) -> None:
    page = Page(browser, site, screenshots)
    page.open("/admin/")
    page.keyboard_login("not-the-password")
    page.text_becomes(".login .el-alert__title", WRONG_PASSWORD_DETAIL)
    browser.save_screenshot(str(screenshots / "admin-wrong-password.png"))
    assert "/admin/login" in browser.current_url
    assert browser.execute_script("return sessionStorage.getItem('forecourt.admin.token')") is None   # nothing kept
    assert_all_assets_local(page)


def test_an_expired_token_means_logging_in_again(browser: webdriver.Chrome, site: Site, screenshots: Path) -> None:
    page = Page(browser, site, screenshots)
    page.open("/admin/")
    page.keyboard_login(PASSWORD)
    page.until(lambda: page.texts(".topbar .user-name") == ["张三"], "signed in")
    page.text_becomes(".page .station", "畅加测试站 · demo-01")      # 工作台 lists the user's stations
    browser.save_screenshot(str(screenshots / "admin-home.png"))
    browser.execute_script("""
        const key = 'forecourt.admin.token', kept = JSON.parse(sessionStorage.getItem(key))
        sessionStorage.setItem(key, JSON.stringify({ ...kept, expiresAt: Date.now() - 1000 }))""")
    page.open("/admin/equipment/devices")     # a new page load: only what the tab kept
    page.until(lambda: "/admin/login?redirect=" in browser.current_url, "the expired token is not used")


def test_a_token_the_server_no_longer_accepts_sends_the_user_to_login(
        browser: webdriver.Chrome, site: Site, screenshots: Path) -> None:
    page = Page(browser, site, screenshots)
    page.open("/admin/")
    page.keyboard_login(PASSWORD)
    page.until(lambda: page.texts(".topbar .user-name") == ["张三"], "signed in")
    site.app.state.tokens.clear()                  # e.g. revoked, or the server restarted
    page.click(".side .el-menu-item", "设备管理")     # the list asks the API: 401
    page.until(lambda: "/admin/login" in browser.current_url, "sent to the login page")
    page.text_becomes(".login .el-alert__title", "登录已过期，请重新登录")
    page.keyboard_login(PASSWORD)                  # and back to the page after logging in again
    page.until(lambda: browser.current_url.endswith("/admin/equipment/devices"), "back on the devices page")
    page.text_becomes(".list-page .pager .total", f"共 {len(seed_devices())} 条")
