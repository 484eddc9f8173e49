"""会员管理 in a real Chromium against the real head-office API: the administrator registers a member in the
member list's dialog (the server's field error first, by keyboard), opens the member's 360° page, binds a plate
there and sees the phone, name and plate whole (pii:read); the marketing user (member:read and member:write, no
pii:read) sees the same member masked on the list and on the 360° page; the attendant has no member menu."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from selenium import webdriver
from selenium.webdriver.common.keys import Keys

from tests.e2e.web.browsing import Page
from tests.e2e.web.conftest import RealSite
from tests.e2e.web.test_back_office import log_in

pytestmark = pytest.mark.e2e

ROWS = ".list-page .el-table__body tr.el-table__row"


def _members(database_url: str) -> list[tuple[str, str, str]]:
    with psycopg.connect(database_url) as conn:
        return [tuple(r) for r in conn.execute(   # type: ignore[misc]
            "SELECT m.member_no, m.phone, v.plate FROM business.members m "
            "LEFT JOIN business.vehicles v ON v.member_no = m.member_no ORDER BY m.member_no")]


def test_register_bind_a_plate_and_see_the_360_masked_by_role(browser: webdriver.Chrome, real_site: RealSite,
                                                                screenshots: Path) -> None:
    page = Page(browser, real_site.url, screenshots)
    log_in(page, real_site, "admin")
    page.click(".modules .el-menu-item", "会员管理")
    page.texts_become(".side .el-menu-item", ["会员列表", "会员详情", "等级与权益", "会员标签", "车辆与黑名单",
                                              "积分查询", "积分规则", "积分商城", "人脸库"])   # points, faces
    page.click(".side .el-menu-item", "会员列表")
    page.until(lambda: browser.current_url.endswith("/admin/members/list"), "on the member list")
    page.text_becomes(".list-page .pager .total", "共 0 条")

    page.click(".list-page .toolbar .create")
    phone = page.one(".list-form input[name=phone]")
    phone.send_keys("1381234567")                       # ten digits: the server says what a phone is
    page.one(".list-form input[name=name]").send_keys("张三", Keys.ENTER)
    page.text_becomes(".list-form .el-form-item__error",
                      "手机号应为 11 位中国大陆手机号，如 13812345678 (phone: an 11-digit mainland mobile)")
    phone.send_keys("8", Keys.ENTER)
    page.until(lambda: not page.all(".list-form"), "the dialog closed after registering")
    page.text_becomes(".list-page .pager .total", "共 1 条")
    ((member_no, stored_phone, _),) = _members(real_site.database_url)
    assert stored_phone == "13812345678"
    page.until(lambda: "13812345678" in page.one(ROWS).text and "张三" in page.one(ROWS).text, "the row unmasked")

    page.click(f"{ROWS} .open-360", "360°")
    page.until(lambda: browser.current_url.endswith(f"/admin/members/detail?no={member_no}"), "on the 360° page")
    page.text_becomes(".member-detail .member-no", member_no)
    page.click(".member-detail .el-tabs__item", "车辆")
    page.one(".member-detail .bind input[name=plate]").send_keys("京A12345")
    page.one(".member-detail .bind input[name=model]").send_keys("比亚迪汉", Keys.ENTER)
    page.until(lambda: "京A12345" in page.texts(".member-detail .vehicles td"), "the plate bound and shown whole")
    assert _members(real_site.database_url) == [(member_no, "13812345678", "京A12345")]
    page.click(".member-detail .el-tabs__item", "基本资料")
    page.text_becomes(".member-detail .profile-phone", "13812345678")
    page.text_becomes(".member-detail .profile-name", "张三")
    for tab in ("标签", "等级与成长", "生命周期", "订单", "积分"):
        page.click(".member-detail .el-tabs__item", tab)
    page.text_becomes(".member-detail .points-balance", "0")
    page.click(".member-detail .el-tabs__item", "无感支付")                  # the choice and the 免密支付 agreement
    page.text_becomes(".member-detail .agreement-state", "未签约")
    page.click(".member-detail .start-signing", "发起签约")                   # WeChat Pay's papay not set up here
    page.until(lambda: page.all(".member-detail .drive-through-error")
               and "免密支付尚未开通" in page.one(".member-detail .drive-through-error").text, "the reason shown")
    page.shot("member-360-admin")

    browser.execute_script("sessionStorage.clear()")
    log_in(page, real_site, "marketing")
    page.open("/admin/members/list")
    page.until(lambda: "138****5678" in page.one(ROWS).text, "the marketing user sees the phone masked")
    assert "13812345678" not in page.one(ROWS).text and "张*" in page.one(ROWS).text
    assert "京A***45" in page.one(ROWS).text and "京A12345" not in page.one(ROWS).text
    page.click(f"{ROWS} .open-360", "360°")
    page.text_becomes(".member-detail .profile-phone", "138****5678")
    page.text_becomes(".member-detail .profile-name", "张*")
    page.click(".member-detail .el-tabs__item", "车辆")
    page.until(lambda: "京A***45" in page.texts(".member-detail .vehicles td"), "the plate masked")
    assert "京A12345" not in browser.page_source and "13812345678" not in browser.page_source
    assert not page.all(".member-detail .erase")       # no member:privacy
    page.shot("member-360-masked")

    browser.execute_script("sessionStorage.clear()")
    log_in(page, real_site, "attendant")
    assert "会员管理" not in page.texts(".modules .el-menu-item")
    page.open("/admin/members/detail")
    page.text_becomes(".page .el-result__title", "无权访问此页面")
