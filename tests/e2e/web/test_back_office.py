"""The back office in a real Chromium against the real control API (create_app on a test database holding
the demo company): each seeded role logs in with the keyboard and sees exactly its menus and stations; the
list-page pattern on 用户管理 (server sort, cursor paging, drawer, the server's field error on the form,
tabs, logout); login refusals shown; an Excel export with its progress bar. Every asset from 127.0.0.1."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any

import openpyxl
import psycopg
import pytest
from selenium import webdriver
from selenium.webdriver.common.keys import Keys

from business_services.access import handlers
from business_services.access.demo import USERS
from business_services.access.model import permissions_of
from business_services.audit.model import Actor, AuditEntry
from business_services.unit_of_work import UnitOfWork
from control_api.menus import MENUS, shown_on
from control_api.security import TokenIssuer
from forecourt.roles import Role
from tests.e2e.web.browsing import Page
from tests.e2e.web.conftest import RealSite

pytestmark = pytest.mark.e2e

ROLE_OF = {username: role for username, _, role, _ in USERS}
STATIONS = {"demo-01": "畅加测试站", "demo-02": "城东加气站", "demo-03": "西郊充电站"}
SCOPE = {"admin": set(STATIONS), "region": {"demo-01", "demo-02"}, "manager": {"demo-01"}, "cashier": {"demo-01"},
         "attendant": {"demo-01"}, "board": {"demo-01"}}   # every other demo user holds the company: every station


def expected_menus(role: str) -> list[tuple[str, list[str]]]:
    """The module bar and each module's entries a role may see, from menus.py and the role's permissions."""
    allowed = permissions_of([role])
    shown = [(g["title"], [c["title"] for c in g["children"] if c["permission"] in allowed
                           and shown_on(c, Role.HEAD_OFFICE)]) for g in MENUS]   # real_site is head office
    return [(title, entries) for title, entries in shown if entries]


def log_in(page: Page, site: RealSite, username: str) -> None:
    page.open("/admin/")
    page.until(lambda: "/admin/login" in page.browser.current_url, "on the login page")
    page.keyboard_login(username, site.logins[username].password)
    page.until(lambda: page.all(".topbar .user-name"), f"{username} signed in")


def failed_logins(database_url: str, username: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM business.access_login_log WHERE username = %s AND result <> 'ok'",
                           (username,)).fetchone()
    return int(row[0]) if row else 0


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def _add_users(database_url: str, count: int) -> None:
    async with await psycopg.AsyncConnection.connect(database_url) as conn, \
            UnitOfWork(conn, Actor.system("test")) as uow:
        for n in range(count):
            await handlers.create_user(handlers.UserChange(f"测试{n:02d}", ["attendant"], ["demo-02"], None,
                                                           username=f"user{(n * 7) % 31:02d}",
                                                           password=f"Password-{n}x9"), uow)


async def _add_audit(database_url: str, count: int) -> None:
    async with await psycopg.AsyncConnection.connect(database_url) as conn, \
            UnitOfWork(conn, Actor.system("test")) as uow:
        for n in range(count):
            await uow.audit(AuditEntry("test.bulk", f"item:{n}", "demo-02", {"n": n}, {"n": n + 1}))


@pytest.mark.parametrize("username", [u for u, *_ in USERS])
def test_each_role_sees_exactly_its_menus_and_stations(browser: webdriver.Chrome, real_site: RealSite,
                                                       screenshots: Path, username: str) -> None:
    page = Page(browser, real_site.url, screenshots)
    log_in(page, real_site, username)
    expected = expected_menus(ROLE_OF[username])
    page.until(lambda: page.texts(".modules .el-menu-item") == [title for title, _ in expected],
               f"the module bar of {username}")
    for title, entries in expected:
        page.click(".modules .el-menu-item", title)
        page.until(lambda entries=entries: page.texts(".side .el-menu-item") == entries, f"{title} entries")
    stations = SCOPE.get(username, set(STATIONS))
    page.until(lambda: sorted(page.texts(".page .station")) == sorted(f"{STATIONS[c]} · {c}" for c in stations),
               f"the stations {username} may see")
    page.shot(f"role-{username}")
    # a page the role may not open, typed in: refused in the page, not shown
    if "user:read" not in permissions_of([ROLE_OF[username]]):
        page.open("/admin/system/users")
        page.text_becomes(".page .el-result__title", "无权访问此页面")
        assert not page.all(".list-page")


def test_the_list_page_pattern_on_users(browser: webdriver.Chrome, real_site: RealSite, screenshots: Path) -> None:
    run(_add_users(real_site.database_url, 25))
    page = Page(browser, real_site.url, screenshots)
    page.open("/admin/system/users")                      # a deep link without a token → login, then back
    page.until(lambda: "/admin/login" in browser.current_url, "sent to the login page")
    page.shot("admin-login")
    page.keyboard_login("admin", real_site.logins["admin"].password)
    page.until(lambda: browser.current_url.endswith("/admin/system/users"), "back at the deep link")
    page.text_becomes(".tabs .el-tabs__item", "用户管理")
    total = len(USERS) + 25
    page.text_becomes(".list-page .pager .total", f"共 {total} 条")
    names = sorted([u for u, *_ in USERS] + [f"user{(n * 7) % 31:02d}" for n in range(25)])
    page.until(lambda: page.first_cells() == names[:20], "sorted by user name (the API's default)")

    page.click(".list-page th.is-sortable .sort-caret.descending")
    page.until(lambda: page.first_cells() == names[::-1][:20], "sorted by user name, descending")
    page.click(".list-page .pager .next")
    page.until(lambda: page.first_cells() == names[::-1][20:40], "page 2 keeps the sort")
    page.text_becomes(".list-page .pager .page-number", "第 2 页")
    page.click(".list-page .pager .previous")
    page.until(lambda: page.first_cells() == names[::-1][:20], "page 1 again")

    page.click(".list-page .el-table__body tr.el-table__row .show")
    drawer = page.one(".el-drawer")
    page.until(lambda: names[-1] in drawer.text and "用户详情" in drawer.text, "the drawer shows the user")
    browser.switch_to.active_element.send_keys(Keys.ESCAPE)
    page.until(lambda: not page.all(".el-drawer"), "the drawer closed")

    # create: the server's refusal shows under its field; fixed, it saves once
    page.click(".list-page .toolbar .create")
    page.one(".list-form input[name=username]").send_keys("newcomer")
    page.one(".list-form input[name=password]").send_keys("short1")
    page.one(".list-form input[name=display_name]").send_keys("新同事")
    page.click(".list-form [data-field=roles]")
    page.click(".el-select-dropdown__item", "加油员")
    page.click(".el-dialog__title")                  # closes the open select
    page.click(".list-form [data-field=units]")
    page.click(".el-select-dropdown__item", "城东加气站 · demo-02")
    page.click(".el-dialog__title")                  # closes the open select
    page.click(".list-form .save")
    page.text_becomes(".list-form .el-form-item__error", "密码至少 10 位 (the password needs at least 10 characters)")
    page.shot("admin-form-error")
    box = page.one(".list-form input[name=password]")
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys("Welcome-pass-2026", Keys.ENTER)
    page.until(lambda: not page.all(".list-form"), "the dialog closed after saving")
    page.text_becomes(".list-page .pager .total", f"共 {total + 1} 条")
    with psycopg.connect(real_site.database_url) as conn:
        assert conn.execute("SELECT count(*) FROM business.access_users WHERE username = 'newcomer'").fetchone() == (1,)

    # tabs keep their page; closing one drops it; logout guards the pages again
    page.click(".list-page .pager .next")
    page.text_becomes(".list-page .pager .page-number", "第 2 页")
    page.click(".side .el-menu-item", "审计日志")
    page.until(lambda: page.texts(".tabs .el-tabs__item") == ["工作台", "用户管理", "审计日志"], "a third tab")
    page.click(".tabs .el-tabs__item", "用户管理")
    page.text_becomes(".list-page .pager .page-number", "第 2 页")
    page.click(".tabs .el-tabs__item.is-active .is-icon-close")
    page.until(lambda: page.texts(".tabs .el-tabs__item") == ["工作台", "审计日志"], "the users tab closed")
    page.assert_all_assets_local()
    page.click(".topbar .user")
    page.click(".logout")
    page.until(lambda: "/admin/login" in browser.current_url, "logged out")
    page.open("/admin/system/users")
    page.until(lambda: "/admin/login?redirect=" in browser.current_url, "guarded after logout")


def test_login_refusals_are_shown_on_the_form(browser: webdriver.Chrome, real_site: RealSite,
                                              screenshots: Path) -> None:
    page = Page(browser, real_site.url, screenshots)
    page.open("/admin/")
    page.keyboard_login("cashier", "not-the-password-1")
    page.text_becomes(".login .el-alert__title", "用户名或密码错误 (wrong user name or password)")
    assert browser.execute_script("return sessionStorage.getItem('forecourt.admin.token')") is None
    for tries in range(2, 6):                        # five failures lock the account: 423, said how long
        box = page.one("input[name=password]")
        box.send_keys(Keys.CONTROL, "a")
        box.send_keys("not-the-password-1", Keys.ENTER)
        page.until(lambda tries=tries: failed_logins(real_site.database_url, "cashier") == tries, f"try {tries} seen")
    page.until(lambda: any("账号已锁定" in t for t in page.texts(".login .el-alert__title")), "the lock is shown")
    page.shot("admin-locked")
    assert "/admin/login" in browser.current_url
    page.assert_all_assets_local()


def test_a_token_the_server_no_longer_accepts_sends_the_user_to_login(
        browser: webdriver.Chrome, real_site: RealSite, screenshots: Path) -> None:
    page = Page(browser, real_site.url, screenshots)
    log_in(page, real_site, "auditor")
    page.click(".modules .el-menu-item", "系统管理")
    real_site.app.state.tokens = TokenIssuer("another-secret-" + "y" * 32)   # e.g. the secret was rotated
    page.click(".side .el-menu-item", "审计日志")                           # the list asks the API: 401
    page.until(lambda: "/admin/login" in browser.current_url, "sent to the login page")
    page.text_becomes(".login .el-alert__title", "登录已过期，请重新登录")
    page.keyboard_login("auditor", real_site.logins["auditor"].password)
    page.until(lambda: browser.current_url.endswith("/admin/system/audit"), "back on the audit page")
    page.until(lambda: page.first_cells(), "the audit list is shown")


def test_an_expired_token_means_logging_in_again(browser: webdriver.Chrome, real_site: RealSite,
                                                 screenshots: Path) -> None:
    page = Page(browser, real_site.url, screenshots)
    log_in(page, real_site, "manager")
    browser.execute_script("""
        const key = 'forecourt.admin.token', kept = JSON.parse(sessionStorage.getItem(key))
        sessionStorage.setItem(key, JSON.stringify({ ...kept, expiresAt: Date.now() - 1000 }))""")
    page.open("/admin/operations/stations")
    page.until(lambda: "/admin/login?redirect=" in browser.current_url, "the expired token is not used")


def test_audit_exports_the_filtered_rows_with_progress(browser: webdriver.Chrome, real_site: RealSite,
                                                       screenshots: Path, tmp_path: Path) -> None:
    run(_add_audit(real_site.database_url, 2000))
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    browser.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    page = Page(browser, real_site.url, screenshots)
    log_in(page, real_site, "auditor")
    page.click(".modules .el-menu-item", "系统管理")
    page.click(".side .el-menu-item", "审计日志")
    page.one(".list-page input[name=action]").send_keys("test.bulk", Keys.ENTER)
    page.text_becomes(".list-page .pager .total", "共 2000 条")
    page.click(".list-page .toolbar .export")
    page.one(".list-page .export-progress .el-progress")       # the bar is shown while the job runs
    page.until(lambda: any("2000 / 2000" in t for t in page.texts(".export-count")), "all rows exported")
    page.shot("audit-export")
    files = page.until(lambda: [p for p in downloads.iterdir() if p.suffix == ".xlsx"], "the file downloaded")
    sheet = openpyxl.load_workbook(io.BytesIO(files[0].read_bytes()), read_only=True).active
    rows = list(sheet.iter_rows(values_only=True))
    assert "操作" in rows[0] and "对象" in rows[0]                # Chinese headers
    assert len(rows) == 1 + 2000
    actions = {row[list(rows[0]).index("操作")] for row in rows[1:]}
    assert actions == {"test.bulk"}                              # the filter applied, not the whole chain
    with psycopg.connect(real_site.database_url) as conn:
        assert conn.execute("SELECT count(*) FROM business.audit_log WHERE action = 'export.create' "
                            "AND actor = 'auditor'").fetchone() == (1,)
