"""Issue 19, authorisation before fuelling, in Chromium through every real part (``sales_chain.py``: the dispenser
simulator, the edge node, the broker, the station server and head office with its fleet routes).

A fleet card with a 300-yuan daily limit and 200 yuan used today: 车队加油 (F11) at the POS gives "已授权 100.00 元",
the pump is authorised with an amount preset of 10000 fen through the edge, and the fuelling stops at 100.00 yuan;
its order is paid with 车队挂账 against that authorisation; a second attempt the same day is refused at the POS
with the reason, and the pump is not authorised. Once with head office deciding (and capturing the sale once), once
with the station's line to head office cut (connection refused): the station decides alone from the fleet card on
its member list and reports the sale by payment.captured (offline, auth_no).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from selenium import webdriver
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys

from business_services.numbers import STATION_ZONE
from business_services.payments.registry import head_office_link
from forecourt.demo import station_key
from forecourt.local import free_port
from simulators.dispenser.states import FpState, PresetType
from telemetry.contracts.broker import BrokerAddress
from tests.e2e.web.browsing import Page
from tests.e2e.web.sales_chain import STATION, SalesChain, running
from tests.integration.station_fleets.support import CARD, fleet_card, hold
from tests.support.fleets import make_card, make_enterprise

pytestmark = [pytest.mark.e2e, pytest.mark.serial]
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


def test_head_office_gives_the_rest_of_the_daily_limit_as_the_pumps_preset_and_no_more(
        web_dist: Path, database_url: str, station_database_url: str, broker: BrokerAddress, group: str,
        tmp_path: Path, browser: webdriver.Chrome, screenshots: Path) -> None:
    with running(database_url, station_database_url, broker, group, tmp_path / "data", prices=PRICES) as chain:
        card_no = chain.call(used_at_head_office(chain, 20000))
        chain.call(two_pumps_at_once(chain, card_no))
        page = Page(browser, chain.station_server, screenshots)
        start_pos(chain, page)
        page.text_becomes(".head-office", "● 总部连接正常")
        auth_no = authorise(chain, page, card_no, offline=False)
        order_no = fuel_to_the_preset(chain, page)
        pay_on_account(chain, page, order_no, auth_no, card_no, offline=False)
        refused_the_second_time(chain, page, card_no, auth_no)
    assert rows(database_url, """SELECT auth_no, amount_fen, offline FROM business.fleet_payments
        WHERE card_no = %s ORDER BY paid_at""", card_no)[1:] == [(auth_no, 10000, False)]     # captured once
    assert rows(database_url, "SELECT count(*) FROM business.ledger_entries WHERE idempotency_key LIKE %s",
                f"fleet.paid:{STATION}:%") == [(2,)]


async def used_at_head_office(chain: SalesChain, fen: int) -> str:
    """A card with a 300-yuan daily limit at head office, and ``fen`` it bought earlier today through head office's
    own routes (asked and captured with the station's key)."""
    async with await psycopg.AsyncConnection.connect(chain.head_office_db, autocommit=True) as conn:
        code = await make_enterprise(conn, credit_limit_fen=1_000_000)
        card_no = await make_card(conn, code, daily_fen=30000)
    headers = {"X-API-Key": await station_key(chain.head_office_db, STATION)}
    day, now = datetime.now(STATION_ZONE), datetime.now(UTC).isoformat()
    async with httpx.AsyncClient(base_url=chain.head_office, headers=headers, timeout=30) as http:
        asked = await http.post("/api/v1/fleet-authorisations", headers={"Idempotency-Key": "earlier-ask"}, json={
            "auth_no": f"{STATION}-{day:%Y%m%d}-A09001", "station": STATION, "card_no": card_no,
            "nozzle": "disp-01/2/1", "grade": 92, "fen_per_l": 789, "wanted_fen": fen, "at": now})
        assert asked.status_code == 200 and asked.json()["preset_fen"] == fen, asked.text
        paid = await http.post("/api/v1/fleet-payments", headers={"Idempotency-Key": "earlier-pay"}, json={
            "station": STATION, "payment_no": f"{STATION}-{day:%Y%m%d}-P09001", "auth_no": asked.json()["auth_no"],
            "card_no": card_no, "amount_fen": fen, "order_nos": [f"{STATION}-{day:%Y%m%d}-O09001"], "paid_at": now})
        assert paid.status_code == 200, paid.text
    return card_no


async def two_pumps_at_once(chain: SalesChain, card_no: str) -> None:
    """Two pumps ask for the card at once: one gets the 100 yuan left (its pump authorised), the other is refused
    (its pump untouched); the driver leaves, the cashier cancels: the pump's authorisation is taken back and the
    100 yuan is free again."""
    async with httpx.AsyncClient(base_url=f"{chain.station_server}/api/v1/stations/{STATION}", timeout=60) as http:
        token = await http.post(f"{chain.station_server}/api/v1/auth/token", data={
            "username": "cashier", "password": chain.logins["cashier"].password})
        login = {"Authorization": f"Bearer {token.json()['access_token']}"}
        answers = await asyncio.gather(*(http.post("/fleet-authorisations", json={"card_no": card_no, "nozzle": n},
                                                   headers=login | {"Idempotency-Key": f"two-pumps-{n}"})
                                         for n in ("disp-01/1/1", "disp-01/2/1")))
        assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
        states = {a.json()["nozzle"]: (a.json()["state"], a.json()["preset_fen"]) for a in answers}
        assert sorted(states.values()) == [("refused", 0), ("reserved", 10000)], states
        [(kept, auth_no)] = [(a.json()["nozzle"], a.json()["auth_no"]) for a in answers
                             if a.json()["state"] == "reserved"]
        point = int(kept.split("/")[1])
        assert pump_state(chain, point) is FpState.AUTHORISED and pump_state(chain, 3 - point) is FpState.IDLE
        released = await http.post(f"/fleet-authorisations/{auth_no}/release",
                                    headers=login | {"Idempotency-Key": "two-pumps-release"})
        assert released.status_code == 200 and released.json()["state"] == "released", released.text
    assert pump_state(chain, point) is FpState.IDLE                # nobody fuels on a released preset


def test_offline_the_station_gives_the_rest_of_the_daily_limit_and_no_more(
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

        auth_no = authorise(chain, page, CARD, offline=True)
        order_no = fuel_to_the_preset(chain, page)
        pay_on_account(chain, page, order_no, auth_no, CARD, offline=True)
        refused_the_second_time(chain, page, CARD, auth_no)


def refused_the_second_time(chain: SalesChain, page: Page, card_no: str, auth_no: str) -> None:
    press(page, Keys.F11)                                  # the same card again, the same day
    type_card(page, card_no)
    page.until(lambda: any("今日额度已用完" in t for t in page.texts(".fleet-dialog .answer")),
               "the refusal says the daily limit is used up")
    page.shot("fleet-refused")
    chain.call(asyncio.sleep(0.5))
    assert fp_state(chain, 1) is FpState.IDLE, "a refused ask sends nothing to the pump"
    assert rows(chain.station_db, """SELECT auth_no <> %s, state FROM business.station_fleet_authorisations
        ORDER BY asked_at DESC LIMIT 1""", auth_no) == [(True, "refused")]   # the newest ask
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


def type_card(page: Page, card_no: str) -> None:
    page.one(".fleet-dialog")
    page.until(lambda: page.browser.switch_to.active_element.get_attribute("name") == "fleet-who",
               "the card box has the focus")
    page.browser.switch_to.active_element.send_keys(card_no, Keys.ENTER)


def pump_state(chain: SalesChain, fp: int) -> FpState:
    """The fuelling point's state, read on the chain's loop (where the simulator runs)."""
    assert chain.dispenser is not None
    chain.dispenser.catch_up()
    return chain.dispenser.model.fp_view(fp).state


def fp_state(chain: SalesChain, fp: int) -> FpState:
    """``pump_state`` from the test's thread."""
    async def read() -> FpState:
        return pump_state(chain, fp)
    return chain.call(read())


def authorise(chain: SalesChain, page: Page, card_no: str, *, offline: bool) -> str:
    """F11, the card, Enter: 已授权 100.00 元, and the pump holds the amount preset."""
    press(page, Keys.F11)
    assert page.one('.fleet-dialog select[name="fleet-nozzle"]').get_attribute("value") == "disp-01/1/1"
    type_card(page, card_no)
    page.until(lambda: any("已授权 100.00 元" in t for t in page.texts(".fleet-dialog .answer")),
               "the POS shows the preset")
    page.shot("fleet-authorised")
    [(auth_no, preset, was_offline)] = rows(chain.station_db, """SELECT auth_no, preset_fen, offline
        FROM business.station_fleet_authorisations WHERE state = 'reserved'""")
    assert (preset, was_offline) == (10000, offline)

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


def pay_on_account(chain: SalesChain, page: Page, order_no: str, auth_no: str, card_no: str, *,
                   offline: bool) -> None:
    """Enter on the order: its tender is 车队挂账 against the authorisation; Enter pays."""
    press(page, Keys.ENTER)
    page.text_becomes(".pay-dialog .due", "¥100.00")
    page.until(lambda: "车队挂账" in page.one('.pay-dialog [data-tender="0"]').text, "the tender is 车队挂账")
    page.text_becomes(".pay-dialog .fleet-auth", f"车队授权 {auth_no}")
    press(page, Keys.ENTER)
    page.until(lambda: not page.all(".pay-dialog"), "paid")
    page.until(lambda: not page.all(f'[data-order="{order_no}"]'), "the paid order left the payable list")
    assert rows(chain.station_db, """SELECT state, captured_fen, captured_offline
        FROM business.station_fleet_authorisations WHERE auth_no = %s""", auth_no) == [("captured", 10000, offline)]
    assert rows(chain.station_db, """SELECT payload->'data'->>'auth_no', payload->'data'->>'card_no',
            payload->'data'->>'offline' FROM business.outbox WHERE topic LIKE '%%/payment.captured'""") == [
        (auth_no, card_no, str(offline).lower())]
