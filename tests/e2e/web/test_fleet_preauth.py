"""Issue 19, authorisation before fuelling, in Chromium through every real part (``sales_chain.py``: the dispenser
simulator, the edge node, the broker, the station server and head office), with the station's line to head office
cut (connection refused): the station decides alone from the fleet card on its member list.

A fleet card with a 300-yuan daily limit and 200 yuan used today at this station: 车队加油 (F11) at the POS gives
"已授权 100.00 元", the pump is authorised with an amount preset of 10000 fen through the edge, and the fuelling
stops at 100.00 yuan; its order is paid with 车队挂账 against that authorisation (reported as payment.captured,
offline, with auth_no); a second attempt the same day is refused at the POS with the reason, and the pump is not
authorised.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from selenium import webdriver
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys

from business_services.numbers import STATION_ZONE
from business_services.payments.registry import head_office_link
from forecourt.local import free_port
from simulators.dispenser.states import FpState, PresetType
from telemetry.contracts.broker import BrokerAddress
from tests.e2e.web.browsing import Page
from tests.e2e.web.sales_chain import STATION, SalesChain, running
from tests.integration.station_fleets.support import CARD, fleet_card, hold

pytestmark = pytest.mark.e2e
PRICES = {"92": 789, "95": 836}


def press(page: Page, *keys: str) -> None:
    ActionChains(page.browser).send_keys(*keys).perform()


def rows(database_url: str, sql: str, *args: object) -> list[tuple[Any, ...]]:
    with psycopg.connect(database_url) as conn:
        return list(conn.execute(sql, args).fetchall())  # type: ignore[call-overload]


def used_today(station_db: str, fen: int) -> None:
    """``fen`` fuelled and paid with the card at this station earlier today (as the station writes it)."""
    earlier = max(datetime.now(UTC) - timedelta(minutes=5),
                  datetime.now(STATION_ZONE).replace(hour=0, minute=0, second=1).astimezone(UTC))
    day = earlier.astimezone(STATION_ZONE)
    with psycopg.connect(station_db, autocommit=True) as conn:
        conn.execute(
            """INSERT INTO business.station_fleet_authorisations (auth_no, station, card_no, enterprise, device,
                   fuelling_point, nozzle, grade, fen_per_l, state, preset_fen, code, offline, payment_no,
                   captured_fen, captured_offline, asked_at, closed_at)
               VALUES (%s, %s, %s, 'E900001', 'disp-01', 2, 1, 92, 789, 'captured', %s, 'ok', true, %s, %s, true,
                       %s, %s)""",
            (f"{STATION}-{day:%Y%m%d}-A09999", STATION, CARD, fen, f"{STATION}-{day:%Y%m%d}-P09999", fen, earlier,
             earlier))


def test_a_fleet_card_gets_the_rest_of_its_daily_limit_as_the_pumps_preset_and_no_more(
        web_dist: Path, database_url: str, station_database_url: str, broker: BrokerAddress, group: str,
        tmp_path: Path, browser: webdriver.Chrome, screenshots: Path) -> None:
    with running(database_url, station_database_url, broker, group, tmp_path / "data", prices=PRICES) as chain:
        chain.call(hold(chain.station_db, fleet_card(daily_fen=30000, offline_limit_fen=50000)))
        used_today(chain.station_db, 20000)
        link = head_office_link(chain.providers)
        assert link is not None
        link.base_url = f"http://127.0.0.1:{free_port()}"     # the station's line to head office is cut
        page = Page(browser, chain.station_server, screenshots)
        start_pos(chain, page)

        auth_no = authorise(chain, page)
        order_no = fuel_to_the_preset(chain, page)
        pay_on_account(chain, page, order_no, auth_no)

        press(page, Keys.F11)                                  # the same card again, the same day
        type_card(page)
        page.until(lambda: any("今日额度已用完" in t for t in page.texts(".fleet-dialog .answer")),
                   "the refusal says the daily limit is used up")
        page.shot("fleet-refused")
        chain.call(asyncio.sleep(0.5))
        assert fp_state(chain, 1) is FpState.IDLE, "a refused ask sends nothing to the pump"
        assert rows(chain.station_db, """SELECT state, code FROM business.station_fleet_authorisations
            WHERE auth_no NOT IN (%s) AND auth_no NOT LIKE '%%A09999' ORDER BY auth_no""", auth_no) == [
            ("refused", "daily")]
        press(page, Keys.ESCAPE)
        page.until(lambda: not page.all(".fleet-dialog"), "Esc closes 车队加油")
        assert chain.failed_services() == []


def start_pos(chain: SalesChain, page: Page) -> None:
    page.open("/pos/")
    page.keyboard_login("cashier", chain.logins["cashier"].password)
    page.until(lambda: page.browser.switch_to.active_element.get_attribute("name") == "terminal",
               "the terminal box has the focus")
    page.browser.switch_to.active_element.send_keys(Keys.CONTROL, "a")
    page.browser.switch_to.active_element.send_keys("pos-1", Keys.ENTER)
    page.text_becomes(".terminal-id", "pos-1")
    page.until(lambda: page.one('[data-nozzle="disp-01/1/1"]').get_attribute("data-state") == "idle",
               "the pump reports through the edge node")
    page.click(".open-shift")
    page.text_becomes(".takings", "¥0.00")


def type_card(page: Page) -> None:
    page.one(".fleet-dialog")
    page.until(lambda: page.browser.switch_to.active_element.get_attribute("name") == "fleet-who",
               "the card box has the focus")
    page.browser.switch_to.active_element.send_keys(CARD, Keys.ENTER)


def fp_state(chain: SalesChain, fp: int) -> FpState:
    async def read() -> FpState:
        assert chain.dispenser is not None
        chain.dispenser.catch_up()
        return chain.dispenser.model.fp_view(fp).state
    return chain.call(read())


def authorise(chain: SalesChain, page: Page) -> str:
    """F11, the card, Enter: 已授权 100.00 元, and the pump holds the amount preset."""
    press(page, Keys.F11)
    assert page.one('.fleet-dialog select[name="fleet-nozzle"]').get_attribute("value") == "disp-01/1/1"
    type_card(page)
    page.until(lambda: any("已授权 100.00 元" in t for t in page.texts(".fleet-dialog .answer")),
               "the POS shows the preset")
    page.shot("fleet-authorised")
    [(auth_no, preset, offline)] = rows(chain.station_db, """SELECT auth_no, preset_fen, offline
        FROM business.station_fleet_authorisations WHERE state = 'reserved'""")
    assert (preset, offline) == (10000, True)

    async def pump() -> tuple[FpState, PresetType, int]:
        assert chain.dispenser is not None
        chain.dispenser.catch_up()
        view = chain.dispenser.model.fp_view(1)
        return view.state, view.preset_type, view.preset_value
    assert chain.call(pump()) == (FpState.AUTHORISED, PresetType.AMOUNT, 10000)
    press(page, Keys.ESCAPE)
    page.until(lambda: not page.all(".fleet-dialog"), "Esc closes 车队加油")
    return str(auth_no)


def fuel_to_the_preset(chain: SalesChain, page: Page) -> str:
    """The driver lifts nozzle 1 and fuels until the pump stops by itself at the preset; then hangs up."""
    async def fuel() -> tuple[int, str]:
        assert chain.dispenser is not None
        pump, model = chain.dispenser, chain.dispenser.model
        pump.catch_up()
        model.lift_nozzle(1, 1)
        async with asyncio.timeout(90):
            while not model.transactions(1) or model.fp_view(1).state in (FpState.STARTED, FpState.FUELLING):
                await asyncio.sleep(0.05)
                pump.catch_up()
        model.hang_nozzle(1, 1)
        pump.catch_up()
        last = model.transactions(1)[-1]
        return last.amount_fen, str(last.end_reason)
    amount_fen, why = chain.call(fuel(), timeout_s=120)
    assert amount_fen == 10000, (amount_fen, why)                # the pump stopped at 100.00 yuan
    row = page.one("[data-order]")
    order_no = str(row.get_attribute("data-order"))
    assert rows(chain.station_db, "SELECT amount_fen FROM business.orders WHERE order_no = %s", order_no) == [(10000,)]
    return order_no


def pay_on_account(chain: SalesChain, page: Page, order_no: str, auth_no: str) -> None:
    """Enter on the order: its tender is 车队挂账 against the authorisation; Enter pays."""
    press(page, Keys.ENTER)
    page.text_becomes(".pay-dialog .due", "¥100.00")
    page.until(lambda: "车队挂账" in page.one('.pay-dialog [data-tender="0"]').text, "the tender is 车队挂账")
    page.text_becomes(".pay-dialog .fleet-auth", f"车队授权 {auth_no}")
    press(page, Keys.ENTER)
    page.until(lambda: not page.all(".pay-dialog"), "paid")
    page.until(lambda: not page.all(f'[data-order="{order_no}"]'), "the paid order left the payable list")
    assert rows(chain.station_db, """SELECT state, captured_fen, captured_offline
        FROM business.station_fleet_authorisations WHERE auth_no = %s""", auth_no) == [("captured", 10000, True)]
    assert rows(chain.station_db, """SELECT payload->'data'->>'auth_no', payload->'data'->>'card_no',
            payload->'data'->>'offline' FROM business.outbox WHERE topic LIKE '%%/payment.captured'""") == [
        (auth_no, CARD, "true")]
