"""维修工单 in a real Chromium against the real API: the station manager opens a work order for demo-01 (the
server's field error first), moves it to 处理中 and to 已完成 with a note; the rows and the audit records are in
the database; the attendant, without ``workorder:read``, has no menu entry and is refused the typed-in address."""

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


def _orders(database_url: str) -> list[tuple[str, str, str, str, str, str]]:
    with psycopg.connect(database_url) as conn:
        return [tuple(r) for r in conn.execute(   # type: ignore[misc]
            "SELECT station, equipment, fault, status, opened_by, note FROM business.equipment_work_orders "
            "ORDER BY id")]


def _audited(database_url: str) -> list[str]:
    with psycopg.connect(database_url) as conn:
        return [r[0] for r in conn.execute("SELECT action FROM business.audit_log WHERE action LIKE "
                                           "'equipment.work_order.%' ORDER BY seq")]


def test_the_manager_opens_a_work_order_and_takes_it_to_done(browser: webdriver.Chrome, real_site: RealSite,
                                                             screenshots: Path) -> None:
    page = Page(browser, real_site.url, screenshots)
    log_in(page, real_site, "manager")
    page.click(".modules .el-menu-item", "设备设施")
    page.click(".side .el-menu-item", "维修工单")
    page.until(lambda: browser.current_url.endswith("/admin/equipment/work-orders"), "on the work orders page")
    page.text_becomes(".list-page .pager .total", "共 0 条")

    page.click(".list-page .toolbar .create")
    page.click(".list-form [data-field=station]")
    page.click(".el-select-dropdown__item", "畅加测试站 · demo-01")
    page.click(".el-dialog__title")                  # closes the open select
    page.one(".list-form input[name=equipment]").send_keys("lel-02")
    page.one(".list-form input[name=fault]").send_keys("   ")        # only spaces: the server says what to do
    page.click(".list-form .save")
    page.text_becomes(".list-form .el-form-item__error", "请填写故障描述 (fault is required)")
    box = page.one(".list-form input[name=fault]")
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys("可燃气体探头读数漂移", Keys.ENTER)
    page.until(lambda: not page.all(".list-form"), "the dialog closed after saving")
    page.text_becomes(".list-page .pager .total", "共 1 条")
    assert _orders(real_site.database_url) == [("demo-01", "lel-02", "可燃气体探头读数漂移", "open", "manager", "")]
    page.until(lambda: "待处理" in page.one(ROWS).text, "the row shows 待处理")

    page.click(f"{ROWS} .start", "开始处理")
    page.until(lambda: "处理中" in page.one(ROWS).text, "the row shows 处理中")
    assert not page.all(f"{ROWS} .start")
    page.click(f"{ROWS} .finish", "完成")
    page.one(".finish-form input[name=note]").send_keys("更换探头并标定", Keys.ENTER)
    page.until(lambda: "已完成" in page.one(ROWS).text, "the row shows 已完成")
    assert not page.all(f"{ROWS} .finish") and not page.all(f"{ROWS} .edit")
    page.shot("work-orders-done")
    assert _orders(real_site.database_url) == [("demo-01", "lel-02", "可燃气体探头读数漂移", "done", "manager",
                                                "更换探头并标定")]
    assert _audited(real_site.database_url) == ["equipment.work_order.open", "equipment.work_order.status",
                                                "equipment.work_order.status"]


def test_the_attendant_has_no_work_orders(browser: webdriver.Chrome, real_site: RealSite, screenshots: Path) -> None:
    page = Page(browser, real_site.url, screenshots)
    log_in(page, real_site, "attendant")
    page.click(".modules .el-menu-item", "设备设施")
    page.until(lambda: "设备管理" in page.texts(".side .el-menu-item"), "the module's menu is shown")
    assert "维修工单" not in page.texts(".side .el-menu-item")
    page.open("/admin/equipment/work-orders")
    page.text_becomes(".page .el-result__title", "无权访问此页面")
