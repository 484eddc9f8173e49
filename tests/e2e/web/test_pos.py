"""The station POS (/pos/) in Chromium against a real station server: a fuelling arrives and appears on the POS,
the cashier works it with the keyboard only, Esc cancels without paying, and a second terminal cannot take an
order the first holds."""

from __future__ import annotations

import asyncio

import psycopg
import pytest
from selenium import webdriver
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys

from business_services.bootstrap import build_bus
from business_services.consumer import EventConsumer
from forecourt.roles import Role, policy
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.topics import event_topic
from tests.e2e.web.browsing import Page
from tests.e2e.web.conftest import StationSite
from tests.support.events import FUELLING, envelope, fuelling

pytestmark = pytest.mark.e2e


def deliver(site: StationSite, broker: BrokerAddress, number: int, **data: object) -> str:
    """A ``fuelling.completed`` handled by the station's consumer (as MQTT would hand it over); the order's number."""
    async def run() -> str:
        consumer = EventConsumer(site.database_url, broker, bus=build_bus(policy(Role.STATION).contexts))
        async with await psycopg.AsyncConnection.connect(site.database_url, autocommit=True) as conn:
            await consumer.handle(conn, event_topic("demo-co", site.station, FUELLING),
                                  envelope(FUELLING, fuelling(number, station=site.station, **data)))
            cur = await conn.execute("SELECT order_no FROM business.orders WHERE station = %s "
                                     "ORDER BY created_at DESC, order_no DESC LIMIT 1", (site.station,))
            return str((await cur.fetchone() or ("",))[0])
    return asyncio.run(run())


def lock_holder(site: StationSite, order_no: str) -> str | None:
    with psycopg.connect(site.database_url) as conn:
        row = conn.execute("SELECT locked_by FROM business.orders WHERE order_no = %s", (order_no,)).fetchone()
        return None if row is None else row[0]


def press(page: Page, *keys: str) -> None:
    ActionChains(page.browser).send_keys(*keys).perform()


def open_pos(page: Page, site: StationSite, terminal: str) -> None:
    """Log in as the station's cashier and name this terminal (first run), keyboard only."""
    page.open("/pos/")
    page.keyboard_login("cashier", site.logins["cashier"].password)
    page.until(lambda: page.browser.switch_to.active_element.get_attribute("name") == "terminal",
               "the terminal box has the focus")
    box = page.browser.switch_to.active_element
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(terminal, Keys.ENTER)
    page.text_becomes(".terminal-id", terminal)


def test_a_fuelling_appears_is_taken_by_keyboard_and_not_by_a_second_terminal(
        station_site: StationSite, broker: BrokerAddress, browser: webdriver.Chrome,
        second_browser: webdriver.Chrome, screenshots: object) -> None:
    first = Page(browser, station_site.url, screenshots)          # type: ignore[arg-type]
    second = Page(second_browser, station_site.url, screenshots)  # type: ignore[arg-type]
    open_pos(first, station_site, "pos-1")
    open_pos(second, station_site, "pos-2")
    with psycopg.connect(station_site.database_url) as conn:
        (name,) = conn.execute("SELECT name FROM business.access_org_units WHERE code = %s",
                               (station_site.station,)).fetchone() or ("?",)
    first.text_becomes(".station-name", name)
    tiles = first.all(".tile")
    assert len(tiles) == 4                                   # demo-01: 2 fuelling points × 2 nozzles
    assert {t.get_attribute("data-state") for t in tiles} == {"offline"}   # no device has reported yet
    assert sorted(first.texts(".tile .grade")) == ["92#汽油", "92#汽油", "95#汽油", "95#汽油"]

    order_no = deliver(station_site, broker, 7001, volume_l=40.0, amount_fen=29000)
    assert order_no
    row = f'[data-order="{order_no}"]'
    first.one(row)                                           # pushed over the orders stream: no reload
    second.one(row)
    assert "290.00" in first.one(row).text

    press(first, Keys.ENTER)                                 # the cursor is on the only order
    first.one(".pay-dialog")
    first.text_becomes(".pay-dialog .due", "¥290.00")
    first.until(lambda: lock_holder(station_site, order_no) == "pos-1", "pos-1 holds the order")
    first.shot("pos-pay-dialog")

    second.text_becomes(f"{row} .el-tag", "pos-1 收款中")   # the lock was pushed to the other terminal
    press(second, Keys.ENTER)
    second.until(lambda: any("pos-1" in t for t in second.texts(".pay-dialog [role=alert]")),
                 "the second terminal is told who has the order")
    press(second, Keys.ESCAPE)
    second.until(lambda: not second.all(".pay-dialog"), "the second terminal's dialog closed")
    assert lock_holder(station_site, order_no) == "pos-1"   # its Esc did not release the first one's lock

    press(first, Keys.ESCAPE)                                # cancel: nothing paid, the lock released
    first.until(lambda: not first.all(".pay-dialog"), "the dialog closed")
    first.until(lambda: lock_holder(station_site, order_no) is None, "the lock is released")
    with psycopg.connect(station_site.database_url) as conn:
        assert conn.execute("SELECT status, paid_fen FROM business.orders WHERE order_no = %s",
                            (order_no,)).fetchone() == ("payable", 0)
    first.one(row)
    first.shot("pos")
