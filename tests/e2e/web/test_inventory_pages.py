"""罐存比对 and 卸油与量油 in a real Chromium against a station server (the station role on its own database):
the station manager sees both in the menu and the cashier neither; the manager computes a day from the page
(计算日报) and sees its tank over the tolerance (超限) with the ARTS figures in the drawer; the day's PDF and
Excel download from the same API; a delivery note entered in the dialog (its local time, the server's own
field error first) shows in the list."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import openpyxl
import psycopg
import pytest
from selenium import webdriver
from selenium.webdriver.common.keys import Keys

from tests.e2e.web.browsing import Page
from tests.e2e.web.conftest import RealSite
from tests.e2e.web.test_back_office import log_in
from tests.integration.inventory.support import add_fuelling, seed_readings, seed_station

pytestmark = pytest.mark.e2e

STATION = "demo-01"
DAY = "2026-12-03"
DAY_START = datetime(2026, 12, 2, 16, 0, tzinfo=UTC)      # 00:00 in Asia/Shanghai
DAY_END = DAY_START + timedelta(days=1)


async def _seed(database_url: str) -> None:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await seed_station(conn, STATION, [(1, "92", 30_000.0)], [("disp-01", 1, 1, "92")])
        await add_fuelling(conn, STATION, 1, 1000.0, 50_000.0, DAY_START + timedelta(hours=9))
        minute = timedelta(minutes=1)
        await seed_readings(conn, STATION, [
            ("atg-01", "tank1/temperature", "°C", DAY_START - 2 * minute, 20.0),
            ("atg-01", "tank1/volume", "L", DAY_START - minute, 12_000.0),
            ("atg-01", "tank1/volume", "L", DAY_END - minute, 10_900.0),      # 100 L more gone than sold
            ("disp-01", "fp1/nozzle1/volume_total", "L", DAY_START - minute, 50_000.0),
            ("disp-01", "fp1/nozzle1/volume_total", "L", DAY_END - minute, 51_000.0)])


def _token(site: RealSite, username: str) -> str:
    answer = httpx.post(f"{site.url}/api/v1/auth/token",
                        data={"username": username, "password": site.logins[username].password})
    return str(answer.json()["access_token"])


def _menu_paths(site: RealSite, username: str) -> set[str]:
    me = httpx.get(f"{site.url}/api/v1/me", headers={"Authorization": f"Bearer {_token(site, username)}"}).json()
    return {c["path"] for g in me["menus"] for c in g["children"]}


def test_the_menus_show_wet_stock_to_the_manager_only(station_site: RealSite) -> None:
    assert {"/inventory/reconciliation", "/inventory/deliveries"} <= _menu_paths(station_site, "manager")
    assert not {"/inventory/reconciliation", "/inventory/deliveries"} & _menu_paths(station_site, "cashier")


def test_a_manager_computes_a_day_and_enters_a_delivery_note(browser: webdriver.Chrome, station_site: RealSite,
                                                             screenshots: Path) -> None:
    asyncio.run(_seed(station_site.database_url))
    page = Page(browser, station_site.url, screenshots)
    log_in(page, station_site, "manager")
    page.open("/admin/inventory/reconciliation")
    page.until(lambda: page.all(".compute-day input"), "the day picker")
    day = page.one(".compute-day input")
    day.send_keys(DAY, Keys.ENTER)
    page.click(".compute")
    page.text_becomes(".list-page .el-table__body tr.el-table__row td:nth-child(2) .cell", DAY)
    row = page.texts(".list-page .el-table__body tr.el-table__row:first-child td .cell")
    assert row[3] == "92#汽油" and row[12] == "超限", row
    assert row[9] == "-100.00", row                                   # at 20 °C: VCF 1
    page.click(".list-page .el-table__body tr.el-table__row .show")
    page.until(lambda: len(page.texts(".arts .el-descriptions__content")) == 4, "the ARTS figures in the drawer")
    arts = page.texts(".arts .el-descriptions__content")
    assert arts[:3] == ["1000.00", "1000.00", "1100.00"], arts        # transactions, nozzle meters, gauge
    page.shot("inventory-reconciliation")
    page.browser.find_element("css selector", "body").send_keys(Keys.ESCAPE)

    bearer = {"Authorization": f"Bearer {_token(station_site, 'manager')}"}
    base = f"{station_site.url}/api/v1/stations/{STATION}/tank-reconciliation?period=day&key={DAY}"
    pdf = httpx.get(f"{base}&format=pdf", headers=bearer)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    book = openpyxl.load_workbook(io.BytesIO(httpx.get(f"{base}&format=xlsx", headers=bearer).content))
    assert book["罐存比对"]["K3"].value == "超限"

    page.open("/admin/inventory/deliveries")
    page.until(lambda: page.all(".list-page .create"), "the 新增 button")
    page.click(".list-page .create")
    page.until(lambda: page.all(".list-form input[name=note_no]"), "the note dialog")
    values = {"note_no": "XC-2026-001", "tank": "1", "supplier": "中石化华东", "carrier": "顺达物流",
              "vehicle": "沪A12345", "arrived_at": "", "invoiced_l_20": "", "invoiced_l_observed": "8000",
              "observed_temperature_c": ""}
    for name, value in values.items():
        if value:
            page.one(f".list-form input[name={name}]").send_keys(value)
    # the browser's own date-time box: its value set as a picker would, then the input event Vue listens to
    page.browser.execute_script("const box = arguments[0]; box.value = '2026-12-03T09:30';"
                                "box.dispatchEvent(new Event('input', { bubbles: true }))",
                                page.one(".list-form input[name=arrived_at]"))
    page.click(".list-form .save")
    page.until(lambda: "请填写标准体积" in " ".join(page.texts(".list-form .el-form-item__error")),
               "the server's field error on 标准体积")
    page.one(".list-form input[name=observed_temperature_c]").send_keys("25")
    page.click(".list-form .save")
    page.text_becomes(".list-page .el-table__body tr.el-table__row td:first-child .cell", "XC-2026-001")
    page.shot("inventory-deliveries")
    with psycopg.connect(station_site.database_url) as conn:
        row_db = conn.execute("SELECT arrived_at, invoiced_l_20 FROM business.inventory_delivery_notes").fetchone()
    assert row_db is not None
    assert row_db[0] == datetime(2026, 12, 3, 1, 30, tzinfo=UTC)     # 09:30 at the station
    assert 7_900 < float(row_db[1]) < 8_000                          # 8000 L at 25 °C, stated at 20 °C
