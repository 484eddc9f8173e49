"""The POS's member panel in Chromium with head office away: F8, the phone, Enter finds the member on the
station's list (离线), Esc hands the keys back; the pay dialog takes the member, F9 pays from the member's
stored-value card within its offline limit, the receipt alert shows the member's lines; above the limit the
payment is refused with the clear message and the order stays payable."""

from __future__ import annotations

import asyncio

import psycopg
import pytest
from selenium import webdriver
from selenium.webdriver.common.keys import Keys

from business_services.online_payments.station_client import HeadOfficeLink
from business_services.payments.registry import Providers, member_providers
from forecourt.local import free_port
from telemetry.contracts.broker import BrokerAddress
from tests.e2e.web.browsing import Page
from tests.e2e.web.conftest import PosSite
from tests.e2e.web.test_pos import deliver, open_pos, press
from tests.integration.station_members.support import MEMBER, PHONE, card, hold, member

pytestmark = pytest.mark.e2e


def order_row(site: PosSite, order_no: str) -> tuple[str, int, str | None]:
    with psycopg.connect(site.database_url) as conn:
        found = conn.execute("SELECT status, paid_fen, member_no FROM business.orders WHERE order_no = %s",
                             (order_no,)).fetchone()
    assert found is not None
    return found[0], found[1], found[2]


def test_a_member_pays_by_stored_value_at_the_pos_while_head_office_is_away(
        pos_site: PosSite, broker: BrokerAddress, browser: webdriver.Chrome, screenshots: object) -> None:
    asyncio.run(hold(pos_site.database_url, member(), card()))
    link = HeadOfficeLink(f"http://127.0.0.1:{free_port()}", "no-key", timeout_s=1, probe_every_s=3600)
    pos_site.app.state.payment_providers = Providers(member_providers(link, pos_site.database_url))
    page = Page(browser, pos_site.url, screenshots)          # type: ignore[arg-type]
    open_pos(page, pos_site, "pos-1")
    page.click(".open-shift")
    order_no = deliver(pos_site, broker, 7801, volume_l=20.0, amount_fen=15000, totalizer_before_l=1000.0,
                       totalizer_after_l=1020.0)
    row = f'[data-order="{order_no}"]'
    page.one(row)

    press(page, Keys.F8)                                     # the member lookup, keyboard only
    page.until(lambda: page.browser.switch_to.active_element.get_attribute("name") == "member-lookup",
               "F8 puts the cursor in the member box")
    press(page, PHONE, Keys.ENTER)
    page.text_becomes(".members [data-member] .no", MEMBER)
    assert page.one(".members [data-member] .offline").text == "离线"
    page.text_becomes(".members [data-member] .level", "金卡")
    assert page.one(".members [data-member] .balance").text == "¥1000.00"
    assert "6222 **** **** 2222" in page.one(".members [data-member] .card").text     # masked on screen
    assert PHONE not in page.one(".members").text
    page.shot("pos-member-offline")
    press(page, Keys.ESCAPE)                                 # the keys go back to the records
    press(page, Keys.ENTER)
    page.text_becomes(".pay-dialog .due", "¥150.00")
    page.text_becomes(".pay-dialog [data-member] .no", MEMBER)  # the member came along
    press(page, Keys.F9)                                     # F9: the member's stored-value card
    page.until(lambda: "储值卡" in page.one('.pay-dialog [data-tender="0"]').text, "the row is 储值卡")
    press(page, Keys.ENTER)
    page.until(lambda: not page.all(row), "paid from the card offline")
    page.until(lambda: page.all(f'[data-member-lines="{order_no}"]'), "the receipt alert has the member's lines")
    lines = page.one(f'[data-member-lines="{order_no}"]').text
    assert MEMBER in lines and "储值卡余额 ¥850.00（约，离线）" in lines and "积分以总部入账为准" in lines
    page.shot("pos-member-paid")
    assert order_row(pos_site, order_no) == ("paid", 15000, MEMBER)

    big = deliver(pos_site, broker, 7802, volume_l=40.0, amount_fen=25000, totalizer_before_l=1020.0,
                  totalizer_after_l=1060.0)
    page.one(f'[data-order="{big}"]')
    press(page, Keys.F8)
    page.until(lambda: page.browser.switch_to.active_element.get_attribute("name") == "member-lookup",
               "F8 again")
    box = page.browser.switch_to.active_element
    box.send_keys(Keys.CONTROL, "a")
    press(page, PHONE, Keys.ENTER, Keys.ESCAPE)
    page.text_becomes(".members [data-member] .no", MEMBER)
    press(page, Keys.ENTER)
    page.text_becomes(".pay-dialog .due", "¥250.00")
    press(page, Keys.F9, Keys.ENTER)
    page.until(lambda: any("储值卡离线限额 ¥200.00" in t for t in page.texts(".pay-dialog [role=alert]")),
               "refused above the offline limit, in words the cashier can act on")
    page.shot("pos-member-over-limit")
    assert order_row(pos_site, big)[:2] == ("payable", 0)
