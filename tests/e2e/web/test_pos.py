"""The station POS (/pos/) in Chromium against a real station server: a fuelling arrives and appears on the POS,
the cashier works it with the keyboard only, Esc cancels without paying, and a second terminal cannot take an
order the first holds; a nozzle tile follows the pump as the station server's own ingest stores its values."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import uuid
from pathlib import Path

import aiomqtt
import psycopg
import pytest
from selenium import webdriver
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys

from business_services.bootstrap import build_bus
from business_services.consumer import EventConsumer
from business_services.payments.providers import ChargeRequest, ChargeResult, ChargeState, RefundRequest, RefundResult
from business_services.payments.registry import Providers
from forecourt.roles import Role, policy
from forecourt.services import station_ingest
from forecourt.settings import Settings
from telemetry.contracts import topics
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.events.payments import Method
from telemetry.contracts.sparkplug import DataType, Metric, Payload, encode
from telemetry.contracts.topics import MessageType, event_topic
from tests.e2e.web.browsing import Page
from tests.e2e.web.conftest import PosSite
from tests.support.events import FUELLING, envelope, fuelling

pytestmark = pytest.mark.e2e


def deliver(site: PosSite, broker: BrokerAddress, number: int, **data: object) -> str:
    """A ``fuelling.completed`` handled by the station's consumer (as MQTT would hand it over); the order's number."""
    async def run() -> str:
        consumer = EventConsumer(site.database_url, broker, bus=build_bus(policy(Role.STATION).contexts))
        async with await psycopg.AsyncConnection.connect(site.database_url, autocommit=True) as conn:
            event_id = str(uuid.uuid4())
            await consumer.handle(conn, event_topic("demo-co", site.station, FUELLING),
                                  envelope(FUELLING, fuelling(number, station=site.station, **data), event_id))
            cur = await conn.execute("SELECT order_no FROM business.orders WHERE fuelling_event_id = %s", (event_id,))
            found = await cur.fetchone()
            assert found is not None, "the fuelling became no order (see the consumer's dead letters)"
            return str(found[0])
    return asyncio.run(run())


def lock_holder(site: PosSite, order_no: str) -> str | None:
    with psycopg.connect(site.database_url) as conn:
        row = conn.execute("SELECT locked_by FROM business.orders WHERE order_no = %s", (order_no,)).fetchone()
        return None if row is None else row[0]


def press(page: Page, *keys: str) -> None:
    ActionChains(page.browser).send_keys(*keys).perform()


def open_pos(page: Page, site: PosSite, terminal: str) -> None:
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
        pos_site: PosSite, broker: BrokerAddress, browser: webdriver.Chrome,
        second_browser: webdriver.Chrome, screenshots: object) -> None:
    first = Page(browser, pos_site.url, screenshots)          # type: ignore[arg-type]
    second = Page(second_browser, pos_site.url, screenshots)  # type: ignore[arg-type]
    open_pos(first, pos_site, "pos-1")
    open_pos(second, pos_site, "pos-2")
    with psycopg.connect(pos_site.database_url) as conn:
        (name,) = conn.execute("SELECT name FROM business.access_org_units WHERE code = %s",
                               (pos_site.station,)).fetchone() or ("?",)
    first.text_becomes(".station-name", name)
    tiles = first.all(".tile")
    assert len(tiles) == 4                                   # demo-01: 2 fuelling points × 2 nozzles
    assert {t.get_attribute("data-state") for t in tiles} == {"offline"}   # no device has reported yet
    assert sorted(first.texts(".tile .grade")) == ["92#汽油", "92#汽油", "95#汽油", "95#汽油"]

    order_no = deliver(pos_site, broker, 7001, volume_l=40.0, amount_fen=29000)
    assert order_no
    row = f'[data-order="{order_no}"]'
    first.one(row)                                           # pushed over the orders stream: no reload
    second.one(row)
    assert "290.00" in first.one(row).text
    assert "16:02:00" in first.one(row).text                  # ended 08:02 UTC: shown in the station's zone

    press(first, Keys.ENTER)                                 # the cursor is on the only order
    first.one(".pay-dialog")
    first.text_becomes(".pay-dialog .due", "¥290.00")
    first.until(lambda: lock_holder(pos_site, order_no) == "pos-1", "pos-1 holds the order")
    first.shot("pos-pay-dialog")

    second.text_becomes(f"{row} .el-tag", "pos-1 收款中")   # the lock was pushed to the other terminal
    press(second, Keys.ENTER)
    second.until(lambda: any("pos-1" in t for t in second.texts(".pay-dialog [role=alert]")),
                 "the second terminal is told who has the order")
    press(second, Keys.ESCAPE)
    second.until(lambda: not second.all(".pay-dialog"), "the second terminal's dialog closed")
    assert lock_holder(pos_site, order_no) == "pos-1"   # its Esc did not release the first one's lock

    press(first, Keys.ESCAPE)                                # cancel: nothing paid, the lock released
    first.until(lambda: not first.all(".pay-dialog"), "the dialog closed")
    first.until(lambda: lock_holder(pos_site, order_no) is None, "the lock is released")
    with psycopg.connect(pos_site.database_url) as conn:
        assert conn.execute("SELECT status, paid_fen FROM business.orders WHERE order_no = %s",
                            (order_no,)).fetchone() == ("payable", 0)
    first.one(row)
    first.shot("pos")


def payments_of(site: PosSite, order_no: str) -> list[tuple[str, int, str, str | None]]:
    with psycopg.connect(site.database_url) as conn:
        return [tuple(row) for row in conn.execute(  # type: ignore[misc]
            "SELECT p.method, a.amount_fen, p.state, p.reference FROM business.payments p "
            "JOIN business.payment_allocations a USING (payment_no) WHERE a.order_no = %s ORDER BY p.method",
            (order_no,)).fetchall()]


def test_cash_by_keyboard_then_a_split_of_cash_and_bank_card(
        pos_site: PosSite, broker: BrokerAddress, browser: webdriver.Chrome, screenshots: object) -> None:
    page = Page(browser, pos_site.url, screenshots)          # type: ignore[arg-type]
    open_pos(page, pos_site, "pos-1")
    page.click(".open-shift")                                    # the cashier opens the shift they are in charge of
    page.text_becomes(".takings", "¥0.00")
    page.text_becomes(".head-office", "● 本站未开通线上支付")   # no online provider here: no link to judge

    cash_order = deliver(pos_site, broker, 7101, volume_l=40.0, amount_fen=29000)
    row = f'[data-order="{cash_order}"]'
    page.one(row)
    press(page, Keys.ENTER)                                      # keyboard only: open, then pay the due in cash
    page.text_becomes(".pay-dialog .due", "¥290.00")
    page.until(lambda: lock_holder(pos_site, cash_order) == "pos-1", "pos-1 holds the order")
    press(page, Keys.ENTER)
    page.until(lambda: not page.all(row), "the paid order left the payable list")
    page.until(lambda: not page.all(".pay-dialog"), "the dialog closed")
    page.text_becomes(".takings", "¥290.00")                     # the bottom bar's takings rose
    assert payments_of(pos_site, cash_order) == [("cash", 29000, "succeeded", None)]
    page.shot("pos-paid")

    split_order = deliver(pos_site, broker, 7102, volume_l=40.0, amount_fen=29000)
    row = f'[data-order="{split_order}"]'
    page.one(row)
    press(page, Keys.ENTER)
    page.text_becomes(".pay-dialog .due", "¥290.00")
    page.click(".pay-dialog .add")                               # a second tender row
    cash = page.one('input[name="tender-0"]')
    cash.send_keys(Keys.CONTROL, "a")
    cash.send_keys("100")
    page.until(lambda: page.one('input[name="tender-1"]').get_attribute("value") == "190.00",
               "the second row takes what the first leaves")
    press(page, Keys.F4)                                         # F4: the last row is the bank card
    reference = page.one('input[name="reference-1"]')
    reference.send_keys("880012")
    received = page.one('input[name="received"]')
    received.send_keys(Keys.CONTROL, "a")
    received.send_keys("200")
    page.text_becomes(".pay-dialog .change", "¥100.00")          # 找零 of the cash part
    page.shot("pos-split")
    press(page, Keys.ENTER)
    page.until(lambda: not page.all(row), "the split-paid order left the payable list")
    assert payments_of(pos_site, split_order) == [("bank_card", 19000, "succeeded", "880012"),
                                                      ("cash", 10000, "succeeded", None)]
    page.text_becomes(".takings", "¥580.00")


async def _fuelling_at_the_pump(site: PosSite, broker: BrokerAddress, group: str, tmp_path: Path,
                                published: threading.Event, done: threading.Event) -> None:
    """The station server's own ingest runs while the edge node (here by hand, Sparkplug B over the real broker)
    says: disp-01 born idle, then fuelling point 1 fuels with nozzle 1."""
    worker = station_ingest(Settings(data_dir=tmp_path, group=group), site.database_url, broker, site.station)
    task = asyncio.create_task(worker.run())
    try:
        await asyncio.wait_for(worker.subscribed.wait(), 10)
        node, device = site.station, "disp-01"

        def metric(name: str, alias: int, kind: DataType, value: object) -> Metric:
            return Metric(name, alias, 1000, kind, value)
        birth = (metric("fp1/state", 1, DataType.INT32, 3), metric("fp1/nozzle", 2, DataType.INT32, 0),
                 metric("fp1/amount", 3, DataType.INT64, 0), metric("fp1/volume", 4, DataType.DOUBLE, 0.0),
                 metric("fp1/nozzle1/price", 5, DataType.INT64, 789))
        fuelling_now = (Metric(None, 1, 2000, DataType.INT32, 8), Metric(None, 2, 2000, DataType.INT32, 1),
                        Metric(None, 3, 2000, DataType.INT64, 1578), Metric(None, 4, 2000, DataType.DOUBLE, 2.0))
        async with aiomqtt.Client(**broker.client_kwargs()) as mqtt:
            await mqtt.publish(topics.node_topic(group, MessageType.NBIRTH, node), encode(Payload(
                1000, 0, (Metric("bdSeq", 99, 1000, DataType.INT64, 0),))), qos=1)
            await mqtt.publish(topics.device_topic(group, MessageType.DBIRTH, node, device),
                               encode(Payload(1000, 1, birth)), qos=1)
            await mqtt.publish(topics.device_topic(group, MessageType.DDATA, node, device),
                               encode(Payload(2000, 2, fuelling_now)), qos=1)
        published.set()
        await asyncio.to_thread(done.wait, 60)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def test_a_nozzle_tile_follows_the_pump_live(pos_site: PosSite, broker: BrokerAddress, group: str,
                                             tmp_path: Path, browser: webdriver.Chrome, screenshots: object) -> None:
    page = Page(browser, pos_site.url, screenshots)          # type: ignore[arg-type]
    open_pos(page, pos_site, "pos-1")
    tile = '[data-nozzle="disp-01/1/1"]'
    page.until(lambda: page.one(tile).get_attribute("data-state") == "offline", "nothing reported yet")
    published, done = threading.Event(), threading.Event()
    pump = threading.Thread(target=asyncio.run, args=(_fuelling_at_the_pump(
        pos_site, broker, group, tmp_path, published, done),), daemon=True)
    pump.start()
    try:
        assert published.wait(30)
        page.until(lambda: page.one(tile).get_attribute("data-state") == "fuelling",
                   "the tile says 加油中 as the pump reports")     # pushed over the device stream, no reload
        page.text_becomes(f"{tile} .amount", "15.78")
        page.text_becomes(f"{tile} .volume", "2.00")
        assert "加油中" in page.one(f"{tile} .state").text
        assert page.one('[data-nozzle="disp-01/1/2"]').get_attribute("data-state") == "idle"   # the other nozzle
        page.shot("pos-live-nozzle")
    finally:
        done.set()
        pump.join(30)


def test_handover_counts_the_cash_and_logs_the_cashier_out(
        pos_site: PosSite, broker: BrokerAddress, browser: webdriver.Chrome, screenshots: object) -> None:
    page = Page(browser, pos_site.url, screenshots)          # type: ignore[arg-type]
    open_pos(page, pos_site, "pos-1")
    page.click(".open-shift")
    shift_no = page.one(".shift-no").text
    order_no = deliver(pos_site, broker, 7201, volume_l=40.0, amount_fen=29000)
    page.one(f'[data-order="{order_no}"]')
    press(page, Keys.ENTER)
    page.text_becomes(".pay-dialog .due", "¥290.00")
    press(page, Keys.ENTER)
    page.text_becomes(".takings", "¥290.00")
    page.click('[data-nav="handover"]')
    page.one(".handover-dialog")
    for denomination, pieces in ((10000, "2"), (5000, "1"), (2000, "1")):     # 270 元 in the drawer: 20 元 short
        box = page.one(f'input[name="cash-{denomination}"]')
        box.send_keys(Keys.CONTROL, "a")
        box.send_keys(pieces)
    page.text_becomes(".handover-dialog .over-short", "¥-20.00")
    ActionChains(page.browser).key_down(Keys.CONTROL).send_keys(Keys.ENTER).key_up(Keys.CONTROL).perform()
    page.until(lambda: any("说明" in t for t in page.texts(".handover-dialog [role=alert]")),
               "a shortfall beyond the tolerance needs an explanation")
    page.one('input[name="explanation"]').send_keys("找零多给 20 元")
    page.shot("pos-handover")
    ActionChains(page.browser).key_down(Keys.CONTROL).send_keys(Keys.ENTER).key_up(Keys.CONTROL).perform()
    page.until(lambda: page.browser.switch_to.active_element.get_attribute("name") == "username",
               "the cashier is logged out: the next one types at once")
    with psycopg.connect(pos_site.database_url) as conn:
        status, report = conn.execute("SELECT status, report FROM business.shifts WHERE shift_no = %s",
                                      (shift_no,)).fetchone() or (None, None)
    assert status == "closed"
    assert report["cash"]["counted_fen"] == 27000 and report["cash"]["over_short_fen"] == -2000


def test_smart_search_and_a_merged_payment_by_keyboard(
        pos_site: PosSite, broker: BrokerAddress, browser: webdriver.Chrome, screenshots: object) -> None:
    page = Page(browser, pos_site.url, screenshots)          # type: ignore[arg-type]
    open_pos(page, pos_site, "pos-1")
    page.click(".open-shift")
    page.text_becomes(".takings", "¥0.00")
    big = deliver(pos_site, broker, 7301, nozzle=1, volume_l=40.0, amount_fen=29000)
    small = deliver(pos_site, broker, 7302, nozzle=2, grade=95, volume_l=17.94, amount_fen=15000,
                    price_fen_per_l=836, totalizer_before_l=500.0, totalizer_after_l=517.94)
    page.one(f'[data-order="{small}"]')

    def shown() -> list[str | None]:
        return [e.get_attribute("data-order") for e in page.all("[data-order]")]
    search = page.one('input[name="search"]')
    searches = (("150", [small]), ("290.00", [big]), ("17.94L", [small]), ("1号", [big]), ("", [big, small]))
    for typed, expected in searches:
        search.send_keys(Keys.CONTROL, "a")
        search.send_keys(typed or Keys.BACKSPACE)
        page.until(lambda e=expected: shown() == e, f"the search {typed!r} shows {expected}")   # oldest first

    page.one(".records .list").click()                         # out of the search box: Space selects
    press(page, Keys.SPACE, Keys.ARROW_DOWN, Keys.SPACE)         # both orders: one merged payment
    page.text_becomes(".records .selected", "已选 2 笔，合计 440.00")
    press(page, Keys.ENTER)
    page.text_becomes(".pay-dialog .due", "¥440.00")
    assert len(page.all(".pay-dialog .summary tr")) == 3        # a header and the two orders
    press(page, Keys.ENTER)
    page.until(lambda: shown() == [], "both orders left the payable list")
    page.text_becomes(".takings", "¥440.00")
    page.click(".bar .el-switch")                               # 脱敏: the takings hidden
    page.text_becomes(".takings", "******")
    assert payments_of(pos_site, big) == [("cash", 29000, "succeeded", None)]
    assert payments_of(pos_site, small) == [("cash", 15000, "succeeded", None)]

    page.click('[data-nav="orders"]')                          # 数据查询: both orders, newest first, paid
    page.until(lambda: page.texts(".orders-table .el-table__row td:first-child .cell") == [small, big],
               "the order query lists both orders")
    assert page.texts(".orders-table .el-table__row td:nth-child(2) .cell") == ["已支付", "已支付"]


class QrProvider:
    """The payments interface as an online method shows it to the POS (the provider and its simulator are tested
    in tests/integration/sales/test_payments.py): pending with a QR until the customer pays; unavailable while
    head office is away."""

    method = Method.WECHAT
    safe_offline = False

    def __init__(self) -> None:
        self.customer_paid = threading.Event()
        self.away: str | None = None

    def unavailable(self) -> str | None:
        return self.away

    async def charge(self, request: ChargeRequest) -> ChargeResult:
        return ChargeResult(ChargeState.PENDING, qr_code_url=f"weixin://wxpay/bizpayurl?pr={request.payment_no}")

    async def query(self, payment_no: str) -> ChargeResult:
        if self.customer_paid.is_set():
            return ChargeResult(ChargeState.SUCCEEDED, provider_ref=f"wx-{payment_no}")
        return ChargeResult(ChargeState.PENDING)

    async def cancel(self, payment_no: str) -> ChargeResult:
        return await self.query(payment_no) if self.customer_paid.is_set() else ChargeResult(ChargeState.FAILED)

    async def refund(self, request: RefundRequest) -> RefundResult:
        return RefundResult(ChargeState.SUCCEEDED)


def test_an_online_payment_waits_for_the_customer_and_head_office_away_leaves_the_safe_methods(
        pos_site: PosSite, broker: BrokerAddress, browser: webdriver.Chrome, screenshots: object) -> None:
    qr = QrProvider()
    pos_site.app.state.payment_providers = Providers([qr])
    page = Page(browser, pos_site.url, screenshots)          # type: ignore[arg-type]
    open_pos(page, pos_site, "pos-1")
    page.click(".open-shift")
    page.text_becomes(".head-office", "● 总部连接正常")
    order_no = deliver(pos_site, broker, 7401, volume_l=40.0, amount_fen=29000)
    row = f'[data-order="{order_no}"]'
    page.one(row)
    press(page, Keys.ENTER)
    page.text_becomes(".pay-dialog .due", "¥290.00")
    press(page, Keys.F2)                                         # F2: WeChat for the whole amount
    page.until(lambda: "微信" in page.one('.pay-dialog [data-tender="0"]').text, "the row is WeChat")
    press(page, Keys.ENTER)
    page.until(lambda: page.one(".pay-dialog .qr").text.startswith("weixin://wxpay/"), "the QR is shown")
    page.until(lambda: "剩余" in page.one(".pay-dialog .countdown").text, "the countdown runs")
    page.shot("pos-qr")
    assert page.all(row)                                         # not paid while the customer has not paid
    qr.customer_paid.set()
    page.until(lambda: not page.all(row), "the order is paid once the customer paid")
    page.text_becomes(".takings", "¥290.00")
    assert payments_of(pos_site, order_no) == [("wechat", 29000, "succeeded", None)]

    qr.away = "总部连接中断，暂不能微信收款"                          # head office goes away
    second = deliver(pos_site, broker, 7402, volume_l=20.0, amount_fen=14500, totalizer_before_l=1040.0,
                     totalizer_after_l=1060.0)
    page.one(f'[data-order="{second}"]')
    press(page, Keys.ENTER)                                      # the dialog asks what can be taken now
    page.text_becomes(".pay-dialog .due", "¥145.00")
    wechat = page.one('.pay-dialog [data-method="wechat"]')
    assert not wechat.is_enabled() and "总部连接中断" in wechat.text
    page.text_becomes(".head-office", "● 总部连接中断，仅可现金、银行卡、其他")
    press(page, Keys.F2)                                         # refused on screen: the row stays cash
    assert "现金" in page.one('.pay-dialog [data-tender="0"]').text
    press(page, Keys.ENTER)                                      # cash still sells
    page.until(lambda: not page.all(f'[data-order="{second}"]'), "paid in cash without head office")
    page.text_becomes(".takings", "¥435.00")
