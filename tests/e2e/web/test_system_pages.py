"""系统管理 pages in a real Chromium against the real API: 审批中心 (the regional manager rejects a request with
the comment required, approves another; the requester sees the outcome under 我发起的), 角色权限 (read-only,
permissions in the drawer), 登录日志 (the failed and the successful login of this test), 用户管理's password
reset shown once."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import psycopg
import pytest
from selenium import webdriver
from selenium.webdriver.common.keys import Keys

from business_services.access.model import ROLES
from business_services.approvals import handlers, registry
from business_services.approvals.model import ApprovalKind, ApprovalRequest, Rule
from business_services.audit.model import Actor
from business_services.unit_of_work import UnitOfWork
from tests.e2e.web.browsing import Page
from tests.e2e.web.conftest import RealSite
from tests.e2e.web.test_back_office import log_in

pytestmark = pytest.mark.e2e


async def _applied(request: ApprovalRequest, uow: UnitOfWork) -> None:
    await uow.conn.execute("CREATE TABLE IF NOT EXISTS business.test_web_applied (request uuid)")
    await uow.conn.execute("INSERT INTO business.test_web_applied VALUES (%s)", (request.id,))


KIND = registry.register(ApprovalKind("test.web_change", "测试变更", Rule("approval:decide"), _applied))


def ask(database_url: str, summary: str) -> uuid.UUID:
    async def run() -> uuid.UUID:
        async with await psycopg.AsyncConnection.connect(database_url) as conn, \
                UnitOfWork(conn, Actor("manager", "10.0.0.8")) as uow:
            return (await handlers.request_approval(uow, KIND.name, "demo-01", summary, {"n": 1})).id
    return asyncio.run(run())


def status_of(database_url: str, request_id: uuid.UUID) -> tuple[str, str | None]:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT status, comment FROM business.approval_requests WHERE id = %s",
                           (request_id,)).fetchone()
    assert row is not None
    return row[0], row[1]


def test_approvals_reject_with_a_comment_and_approve(browser: webdriver.Chrome, real_site: RealSite,
                                                     screenshots: Path) -> None:
    rejected = ask(real_site.database_url, "1号枪改为95号")
    approved = ask(real_site.database_url, "2号枪改为0号")
    page = Page(browser, real_site.url, screenshots)
    log_in(page, real_site, "region")
    page.open("/admin/system/approvals")
    page.until(lambda: sorted(page.texts(".approval-tabs .list-page td:nth-child(3) .cell")) ==
               sorted(["1号枪改为95号", "2号枪改为0号"]), "the inbox")
    rows = page.all(".approval-tabs .list-page .el-table__body tr.el-table__row")
    index = next(i for i, r in enumerate(rows) if "1号枪改为95号" in r.text)
    page.all(".approval-tabs .list-page .reject")[index].click()
    page.click(".decision-form .confirm")                                    # no comment: refused on the form
    page.text_becomes(".decision-form .el-form-item__error", "请填写驳回意见 (a comment is required to reject)")
    page.one(".decision-form textarea[name=comment]").send_keys("油品与油罐不符")
    page.click(".decision-form .confirm")
    page.until(lambda: status_of(real_site.database_url, rejected) == ("rejected", "油品与油罐不符"), "rejected")
    page.until(lambda: page.texts(".approval-tabs .list-page td:nth-child(3) .cell") == ["2号枪改为0号"], "one left")
    page.click(".approval-tabs .list-page .approve")
    page.click(".decision-form .confirm")                                    # approving needs no comment
    page.until(lambda: status_of(real_site.database_url, approved)[0] == "approved", "approved")
    page.shot("approvals-inbox")

    page.click(".topbar .user")
    page.click(".logout")
    page.keyboard_login("manager", real_site.logins["manager"].password)   # the requester
    page.until(lambda: page.all(".topbar .user-name"), "manager signed in")
    page.open("/admin/system/approvals")
    # a station manager decides make-ups and write-offs of their station, but never their own requests
    page.until(lambda: page.texts(".approval-tabs .el-tabs__item") == ["待我审批", "我发起的"], "the manager's tabs")
    page.texts_become(".approval-tabs .list-page td:nth-child(3) .cell", [])
    page.click(".approval-tabs .el-tabs__item", "我发起的")
    page.until(lambda: sorted(page.texts(".approval-tabs .list-page td:nth-child(5) .cell")) == ["已通过", "已驳回"],
               "the outcomes")


def test_roles_login_log_and_a_password_reset(browser: webdriver.Chrome, real_site: RealSite,
                                              screenshots: Path) -> None:
    page = Page(browser, real_site.url, screenshots)
    page.open("/admin/")
    page.keyboard_login("admin", "not-the-password-1")
    page.text_becomes(".login .el-alert__title", "用户名或密码错误 (wrong user name or password)")
    box = page.one("input[name=password]")
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(real_site.logins["admin"].password, Keys.ENTER)
    page.until(lambda: page.all(".topbar .user-name"), "admin signed in")

    page.open("/admin/system/roles")
    page.until(lambda: page.first_cells() == list(ROLES), "every role")
    page.click(".list-page .el-table__body tr.el-table__row .show")
    page.until(lambda: len(page.all(".el-drawer .permission")) == len(ROLES["admin"][1]), "admin's permissions")
    assert not page.all(".list-page .toolbar .create") and not page.all(".list-page .edit")   # read-only

    page.open("/admin/system/login-log")
    page.until(lambda: page.texts(".list-page td:nth-child(3) .cell")[:2] == ["成功", "密码错误"], "the two logins")

    page.open("/admin/system/users")
    page.until(lambda: "attendant" in page.first_cells(), "the users")
    rows = page.all(".list-page .el-table__body tr.el-table__row")
    assert len(page.all(".list-page .reset-password")) == len(rows)        # one per row
    page.all(".list-page .reset-password")[page.first_cells().index("attendant")].click()
    page.click(".el-message-box__btns .el-button--primary")
    new_password = page.until(lambda: page.one(".new-password input").get_attribute("value"), "the new password")
    page.shot("password-reset")
    page.click(".el-dialog .close")
    page.until(lambda: not page.all(".new-password"), "the dialog closed")
    assert new_password not in browser.page_source                          # shown once, gone when closed
    page.click(".topbar .user")
    page.click(".logout")
    page.keyboard_login("attendant", new_password)                        # and it works
    page.until(lambda: page.texts(".topbar .user-name") == ["钱加油"], "the attendant with the new password")
