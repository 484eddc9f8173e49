"""交接班 in a real Chromium against a station server (create_app with the station role on its own database):
the station's back office shows 交接班 and not head office's 资金账户; the cashier of demo-01 opens a shift
from the page; a fuelling arrives through the station's consumer and a cash payment is raised on its bus, so
the card shows one order and 290.00 元 (****** when 脱敏); the handover dialog, keyboard only (Esc closes it,
Enter submits), is pre-filled with the nozzle's current totalizer, counts 270 元 against 290 元 taken, shows
the server's 422 on the explanation field, then closes the shift with one; the history shows it with -20.00
and its report in the drawer."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import httpx
import openpyxl
import psycopg
import pytest
from selenium import webdriver
from selenium.webdriver.common.keys import Keys

from business_services.audit.model import Actor
from business_services.bootstrap import build_bus
from business_services.consumer import EventConsumer
from business_services.shifts import views
from business_services.unit_of_work import UnitOfWork
from forecourt.roles import Role, policy
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.events.payments import Allocation, Method, PaymentCaptured
from tests.e2e.web.browsing import Page
from tests.e2e.web.conftest import RealSite
from tests.e2e.web.test_back_office import log_in
from tests.support.events import FUELLING, envelope, fuelling

pytestmark = pytest.mark.e2e

STATION = "demo-01"


async def _fuel_and_pay(database_url: str, broker: BrokerAddress, number: int, *, pay_fen: int) -> None:
    """A fuelling through the station's consumer; with ``pay_fen``, its cash payment in the open shift, raised
    on the station's bus as the payments context does (tests/integration/sales/test_order_skeleton.py)."""
    bus = build_bus(policy(Role.STATION).contexts)
    consumer = EventConsumer(database_url, broker, bus=bus)
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        start = 1000 + 40 * (number - 1)
        await consumer.handle(conn, f"forecourt/v1/g/{STATION}/events/{FUELLING}", envelope(FUELLING, fuelling(
            number, station=STATION, totalizer_before_l=float(start), totalizer_after_l=float(start + 40))))
        if not pay_fen:
            return
        cur = await conn.execute("SELECT order_no FROM business.orders ORDER BY created_at DESC LIMIT 1")
        (order_no,) = await cur.fetchone() or ("",)
        async with UnitOfWork(conn, Actor("cashier", "pos-1")) as uow:
            shift_no = await views.open_shift(conn, STATION, lock=True)
            assert shift_no is not None
            payment = PaymentCaptured(
                payment_no=f"{STATION}-20261204-P{number:05d}", station=STATION, shift_no=shift_no, terminal="pos-1",
                cashier="cashier", method=Method.CASH, amount_fen=pay_fen,
                allocations=(Allocation(order_no=order_no, amount_fen=pay_fen),), captured_at=datetime.now(UTC))
            await bus.handle(payment.envelope(source="test", event_id=payment.event_id()), uow)


def _menu_paths(site: RealSite, username: str) -> set[str]:
    token = httpx.post(f"{site.url}/api/v1/auth/token",
                       data={"username": username, "password": site.logins[username].password}).json()["access_token"]
    me = httpx.get(f"{site.url}/api/v1/me", headers={"Authorization": f"Bearer {token}"}).json()
    return {c["path"] for g in me["menus"] for c in g["children"]}


def test_a_station_server_menu_shows_shifts_and_not_the_ledger(station_site: RealSite) -> None:
    admin = _menu_paths(station_site, "admin")
    assert "/sales/shifts" in admin and "/finance/accounts" not in admin and "/system/users" in admin
    assert "/sales/shifts" in _menu_paths(station_site, "cashier")


def test_a_cashier_opens_a_shift_and_hands_over_with_a_cash_count(browser: webdriver.Chrome, station_site: RealSite,
                                                                   broker: BrokerAddress, screenshots: Path,
                                                                   tmp_path: Path) -> None:
    page = Page(browser, station_site.url, screenshots)
    asyncio.run(_fuel_and_pay(station_site.database_url, broker, 1, pay_fen=0))   # before the shift: a pump reading
    log_in(page, station_site, "cashier")
    page.click(".modules .el-menu-item", "销售管理")
    page.click(".side .el-menu-item", "交接班")
    page.until(lambda: "/admin/sales/shifts" in browser.current_url, "on the shifts page")
    page.until(lambda: page.all(".current-shift .el-empty"), "no shift open yet")

    page.click(".open-shift")
    page.until(lambda: page.texts(".current-person") == ["cashier"], "the opened shift on the card")
    shift_no = page.texts(".current-no")[0]
    assert shift_no.startswith(f"{STATION}-")

    asyncio.run(_fuel_and_pay(station_site.database_url, broker, 2, pay_fen=29000))
    browser.refresh()
    page.text_becomes(".current-orders", "1")
    page.text_becomes(".current-takings", "290.00")
    page.texts_become(".current-methods .method-net", ["290.00"])
    page.texts_become(".current-grades .grade-volume", ["40.00"])
    page.click(".mask-switch")
    page.text_becomes(".current-takings", "******")
    page.texts_become(".current-methods .method-net", ["******"])
    page.shot("shifts-current")

    page.click(".handover")                                   # Esc closes the dialog
    page.until(lambda: browser.switch_to.active_element.get_attribute("name") == "end-disp-01/1/1",
               "the first end reading has the focus")
    browser.switch_to.active_element.send_keys(Keys.ESCAPE)
    page.until(lambda: not page.all(".handover-form"), "Esc closed the dialog")

    page.click(".handover")
    page.until(lambda: browser.switch_to.active_element.get_attribute("name") == "end-disp-01/1/1",
               "the first end reading has the focus again")
    focused = browser.switch_to.active_element
    assert focused.get_attribute("value") == "1080.00"       # 1040 at open + 40 L sold
    for name, pieces in (("pieces-10000", "2"), ("pieces-5000", "1"), ("pieces-2000", "1")):
        focused.send_keys(Keys.TAB)
        focused = browser.switch_to.active_element
        assert focused.get_attribute("name") == name
        focused.send_keys(pieces)
    page.text_becomes(".cash-summary .counted", "270.00")
    page.text_becomes(".cash-summary .over-short", "-20.00")
    focused.send_keys(Keys.ENTER)                             # 20 元 short, no explanation: the server's 422
    page.until(lambda: "请填写说明" in " ".join(page.texts(".explanation-item .el-form-item__error")),
               "the 422 shown on the explanation field")
    assert page.all(".handover-form")
    page.shot("shifts-handover")
    for _ in range(6):                                        # 10, 5, 1 元, 5, 1 角, then the explanation
        focused.send_keys(Keys.TAB)
        focused = browser.switch_to.active_element
    assert focused.get_attribute("name") == "explanation"
    focused.send_keys("找零多给了顾客", Keys.ENTER)
    page.until(lambda: not page.all(".handover-form"), "the handover went through")
    page.until(lambda: page.all(".current-shift .el-empty"), "no shift open after the handover")

    page.until(lambda: page.first_cells() == [shift_no], "the closed shift in the history")
    row = page.texts(".list-page .el-table__body tr.el-table__row td .cell")
    assert "已交班" in row and "-20.00" in row and "290.00" in row
    page.click(".list-page .el-table__body .show")
    page.until(lambda: page.all(".shift-report .report-cash"), "the report in the drawer")
    page.text_becomes(".report-cash .over-short", "-20.00")      # the drawer may still be sliding in
    page.text_becomes(".report-nozzles .difference", "0.00")
    assert page.all(".report-xlsx") and page.all(".report-pdf") and page.all(".report-html")
    page.shot("shifts-report")
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    browser.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    page.click(".report-xlsx")
    files = page.until(lambda: [p for p in downloads.iterdir() if p.suffix == ".xlsx"], "the report downloaded")
    summary = {row[0]: row[1] for row in openpyxl.load_workbook(files[0])["汇总"].iter_rows(values_only=True)}
    assert summary["长短款（分）"] == -2000 and summary["说明"] == "找零多给了顾客"
    page.click(".report-html")                                # the printable page, in a tab of its own
    page.until(lambda: len(browser.window_handles) == 2, "the printable page opened")
    browser.switch_to.window(browser.window_handles[1])
    page.until(lambda: shift_no in browser.find_element("tag name", "body").text, "the printable report shown")
    page.shot("shifts-printable")
    browser.close()
    browser.switch_to.window(browser.window_handles[0])
    with psycopg.connect(station_site.database_url) as conn:
        row_db = conn.execute("SELECT status, report->'cash'->>'explanation' FROM business.shifts WHERE shift_no = %s",
                              (shift_no,)).fetchone()
    assert row_db == ("closed", "找零多给了顾客")

    page.click(".el-drawer__close-btn")
    page.until(lambda: not page.all(".shift-report"), "the drawer closed")
    page.click(".open-shift")                                 # the next shift: a new one, not the first replayed
    page.until(lambda: page.texts(".current-no") not in ([], [shift_no]), "a second shift opened")


def test_a_manager_closes_over_an_unpaid_order_with_a_reason(browser: webdriver.Chrome, station_site: RealSite,
                                                              broker: BrokerAddress, screenshots: Path) -> None:
    """The 409 for an unpaid order shows on the override field with the order listed; a reason closes the shift
    and the report keeps both."""
    page = Page(browser, station_site.url, screenshots)
    log_in(page, station_site, "manager")
    page.open("/admin/sales/shifts")
    page.click(".open-shift")
    page.until(lambda: page.texts(".current-person") == ["manager"], "the manager's shift on the card")
    asyncio.run(_fuel_and_pay(station_site.database_url, broker, 1, pay_fen=0))
    with psycopg.connect(station_site.database_url) as conn:
        (order_no,) = conn.execute("SELECT order_no FROM business.orders").fetchone() or ("",)
    browser.refresh()
    page.text_becomes(".current-orders", "1")

    page.click(".handover")
    page.until(lambda: browser.switch_to.active_element.get_attribute("name") == "end-disp-01/1/1",
               "the first end reading has the focus")
    browser.switch_to.active_element.send_keys(Keys.ENTER)     # no reason given: the server's 409
    page.until(lambda: order_no in " ".join(page.texts(".override-item .el-form-item__error")),
               "the 409 naming the unpaid order on the override field")
    page.texts_become(".blocking-unpaid .el-table__body td:first-child .cell", [order_no])
    page.shot("shifts-override")
    for _ in range(12):
        if browser.switch_to.active_element.get_attribute("name") == "override_reason":
            break
        browser.switch_to.active_element.send_keys(Keys.TAB)
    focused = browser.switch_to.active_element
    assert focused.get_attribute("name") == "override_reason"
    focused.send_keys("顾客加完油未付款离站，已报警", Keys.ENTER)
    page.until(lambda: not page.all(".handover-form"), "closed over the unpaid order")
    page.click(".list-page .el-table__body .show")
    page.until(lambda: page.all(".shift-report .report-unpaid"), "the report lists the unpaid order")
    page.texts_become(".report-unpaid .el-table__body td:first-child .cell", [order_no])
    with psycopg.connect(station_site.database_url) as conn:
        row = conn.execute("SELECT status, override_reason FROM business.shifts").fetchone()
    assert row == ("closed", "顾客加完油未付款离站，已报警")

    page.click(".el-drawer__close-btn")                       # the history's person filter
    page.until(lambda: not page.all(".shift-report"), "the drawer closed")
    person = page.one(".list-page input[name=person]")
    person.send_keys("cashier", Keys.ENTER)
    page.until(lambda: page.first_cells() == [], "no shift of the cashier's here")
    page.click(".list-page .filters button", "重置")
    page.until(lambda: not person.get_attribute("value"), "the filter reset")
    person.send_keys("manager", Keys.ENTER)
    page.until(lambda: len(page.first_cells()) == 1, "the manager's shift")
    page.one(".list-page input[name=day_from]").send_keys("2099-01-01", Keys.ENTER)   # the date range
    page.click(".list-page .filters button", "查询")
    page.until(lambda: page.first_cells() == [], "no shift opened from 2099 on")
