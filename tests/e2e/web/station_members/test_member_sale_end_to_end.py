"""Issue 18, "Done when" 5: a browser-driven member sale through every real part (``tests/e2e/web/sales_chain.py``).

At the POS the cashier registers a member (proxied to head office), binds a second plate, the car fuels at the
dispenser simulator (the edge node's fuelling becomes the station's order), the cashier pays by stored value online
(head office debits the card: ``POST /api/v1/card-payments``), and sees the card's balance and the points on the
receipt alert; head office awards the points when the paid member order arrives, and the member's 360° page in
the back office shows them.

Head office's side is set up through its own API as the back office would: a points rule (1 point per 元), a
chain stored-value card type, one card issued and recharged with 500 元, bound to the member once registered.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from selenium import webdriver
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys

from telemetry.contracts.broker import BrokerAddress
from tests.e2e.web.browsing import Page
from tests.e2e.web.sales_chain import STATION, SalesChain, running

pytestmark = pytest.mark.e2e

PHONE, PLATE, SECOND_PLATE = "13912345678", "京A10001", "京B20002"
RECHARGE_FEN = 50000


def press(page: Page, *keys: str) -> None:
    ActionChains(page.browser).send_keys(*keys).perform()


def type_into(page: Page, css: str, text: str) -> None:
    box = page.one(css)
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(text)


def log_in(base: str, username: str, password: str) -> dict[str, str]:
    answer = httpx.post(f"{base}/api/v1/auth/token", data={"username": username, "password": password}, timeout=10)
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def post(base: str, path: str, who: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    answer = httpx.post(f"{base}{path}", json=body, headers=who | {"Idempotency-Key": str(uuid.uuid4())}, timeout=20)
    assert answer.status_code < 300, (path, answer.status_code, answer.text)
    found: dict[str, Any] = answer.json()
    return found


def rows(database_url: str, sql: str, *args: object) -> list[tuple[Any, ...]]:
    with psycopg.connect(database_url) as conn:
        return list(conn.execute(sql, args).fetchall())  # type: ignore[call-overload]


def a_card_with_500_yuan(chain: SalesChain, admin: dict[str, str]) -> str:
    """Head office's back office: a points rule, a stored-value card type, one card recharged with 500 元."""
    today = datetime.now(UTC).date().isoformat()
    post(chain.head_office, "/api/v1/points/rules", admin,
         {"name": "每元 1 分", "kind": "base", "basis": "amount", "rate": "1", "effective_from": "2026-01-01"})
    post(chain.head_office, "/api/v1/card-types", admin,
         {"code": "sv-chain", "name": "连锁储值卡", "scope": "chain", "named": True, "medium": "physical",
          "kind": "stored_value", "prefix": "6200", "length": 16, "offline_limit_fen": 20000,
          "offline_daily_fen": 50000})
    issued = post(chain.head_office, "/api/v1/cards", admin, {"card_type": "sv-chain", "station": STATION})
    card_no = str(issued["card_nos"][0])
    post(chain.head_office, f"/api/v1/cards/{card_no}/recharges", admin,
         {"paid_fen": RECHARGE_FEN, "method": "bank_card", "station": STATION,
          "recharge_no": f"{STATION}-{today.replace('-', '')}-C00001"})
    return card_no


def test_register_at_the_pos_fuel_pay_by_stored_value_and_see_points_and_balance(
        web_dist: Path, database_url: str, station_database_url: str, broker: BrokerAddress, group: str,
        tmp_path: Path, browser: webdriver.Chrome, screenshots: Path) -> None:
    with running(database_url, station_database_url, broker, group, tmp_path / "data") as chain:
        admin = log_in(chain.head_office, "admin", chain.logins["admin"].password)
        card_no = a_card_with_500_yuan(chain, admin)
        page = Page(browser, chain.station_server, screenshots)
        member_no = register_at_the_pos(chain, page)
        answer = httpx.post(f"{chain.head_office}/api/v1/cards/{card_no}/binding", json={"member_no": member_no},
                            headers=admin, timeout=20)    # the card handed over is bound in the back office
        assert answer.status_code < 300, answer.text
        _order_no, amount_fen, earned = fuel_and_pay(chain, page, card_no)
        on_the_360_page(chain, page, member_no, earned, RECHARGE_FEN - amount_fen)
        assert chain.failed_services() == []


def register_at_the_pos(chain: SalesChain, page: Page) -> str:
    page.open("/pos/")
    page.keyboard_login("cashier", chain.logins["cashier"].password)
    page.until(lambda: page.browser.switch_to.active_element.get_attribute("name") == "terminal", "terminal box")
    page.browser.switch_to.active_element.send_keys(Keys.CONTROL, "a")
    page.browser.switch_to.active_element.send_keys("pos-1", Keys.ENTER)
    page.text_becomes(".terminal-id", "pos-1")
    page.until(lambda: page.one('[data-nozzle="disp-01/1/1"]').get_attribute("data-state") == "idle",
               "the pump reports through the edge node")
    page.click(".open-shift")
    page.text_becomes(".takings", "¥0.00")

    press(page, Keys.F8)
    page.until(lambda: page.browser.switch_to.active_element.get_attribute("name") == "member-lookup", "F8")
    press(page, PHONE, Keys.ENTER)
    page.until(lambda: any("没有找到会员" in t for t in page.texts(".members [role=alert]")), "not a member yet")
    page.click(".members .register")
    page.until(lambda: page.one('input[name="register-phone"]').get_attribute("value") == PHONE,
               "the phone typed is carried into the form")
    type_into(page, 'input[name="register-name"]', "王小明")
    type_into(page, 'input[name="register-plate"]', PLATE)
    page.click(".members .register-form .el-button")
    page.until(lambda: page.all(".members [data-member] .no"), "registered at head office and found")
    member_no = page.one(".members [data-member] .no").text.strip()
    assert member_no.startswith("M") and not page.all(".members [data-member] .offline")   # head office answered
    page.until(lambda: any("已登记会员" in t for t in page.texts(".members .el-alert")), "told it is registered")

    type_into(page, 'input[name="member-plate"]', SECOND_PLATE)
    page.click(".members .bind .el-button")
    page.until(lambda: any(f"已绑定 {SECOND_PLATE}" in t for t in page.texts(".members .el-alert")), "plate bound")
    page.shot("e2e-member-registered")
    plates = rows(chain.head_office_db, "SELECT plate FROM business.vehicles WHERE member_no = %s ORDER BY plate",
                  member_no)
    assert sorted(p for (p,) in plates) == sorted([PLATE, SECOND_PLATE])
    return member_no


def fuel_and_pay(chain: SalesChain, page: Page, card_no: str) -> tuple[str, int, int]:
    fuelled = chain.fuel(1, 1, 400)
    row = page.one("[data-order]")
    order_no = str(row.get_attribute("data-order"))
    amount_fen = fuelled.amount_fen
    press(page, Keys.F8)                                   # the member again, by the car's plate
    page.until(lambda: page.browser.switch_to.active_element.get_attribute("name") == "member-lookup", "F8")
    page.click(".members [data-member-by]")
    page.click(".el-select-dropdown__item", "车牌")
    page.click('.members input[name="member-lookup"]')
    type_into(page, '.members input[name="member-lookup"]', SECOND_PLATE)
    press(page, Keys.ENTER, Keys.ESCAPE)
    page.until(lambda: page.all(".members [data-member] .no"), "found by the bound plate")
    press(page, Keys.ENTER)                                # 收款 for the order under the cursor, with the member
    page.text_becomes(".pay-dialog .due", f"¥{amount_fen / 100:.2f}")
    press(page, Keys.F9)                                   # 储值卡
    page.until(lambda: "储值卡" in page.one('.pay-dialog [data-tender="0"]').text, "the row is 储值卡")
    type_into(page, '.pay-dialog input[name="card-0"]', card_no)    # the card is swiped
    press(page, Keys.ENTER)
    page.until(lambda: not page.all(".pay-dialog"), "paid from the card through head office")
    page.until(lambda: page.all(f'[data-member-lines="{order_no}"]'), "the member's lines on the receipt alert")
    lines = page.one(f'[data-member-lines="{order_no}"]').text
    balance = f"储值卡余额 ¥{(RECHARGE_FEN - amount_fen) / 100:.2f}"
    earned = amount_fen // 100                             # 1 point per 元 (the rule above)
    assert balance in lines and "离线" not in lines, lines
    assert f"本单积分 +{earned}" in lines, lines
    page.shot("e2e-member-paid")
    [(method, state, card, offline)] = rows(chain.station_db, """SELECT p.method, p.state, c.card_no, c.offline
        FROM business.payments p JOIN business.station_card_payments c USING (payment_no)
        JOIN business.payment_allocations a USING (payment_no) WHERE a.order_no = %s""", order_no)
    assert (method, state, card, offline) == ("stored_value", "succeeded", card_no, False)
    return order_no, amount_fen, earned


def on_the_360_page(chain: SalesChain, page: Page, member_no: str, earned: int, balance_fen: int) -> None:
    deadline = time.monotonic() + 60                       # the paid member order reaches head office: points
    while not rows(chain.head_office_db, "SELECT 1 FROM business.ledger_entries WHERE idempotency_key LIKE %s",
                   "points.awarded:%"):
        assert time.monotonic() < deadline, "head office never awarded the order's points"
        time.sleep(0.2)
    [(card_balance,)] = rows(chain.head_office_db, "SELECT balance FROM business.ledger_accounts WHERE code LIKE %s",
                             "card:%")
    assert card_balance == balance_fen                    # the ledger holds what the receipt said
    office = Page(page.browser, chain.head_office, page.screenshots)
    office.open("/admin/")
    office.keyboard_login("admin", chain.logins["admin"].password)
    office.until(lambda: office.all(".el-menu"), "the back office is open")
    office.open(f"/admin/members/detail?no={member_no}")
    office.text_becomes(".member-detail .member-no", member_no)
    office.click(".member-detail .el-tabs__item", "积分")
    office.text_becomes(".member-detail .points-balance", str(earned))
    office.shot("e2e-member-360")
