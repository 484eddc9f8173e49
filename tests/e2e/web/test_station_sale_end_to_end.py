"""Issue 15, done when: one browser-driven sale through every real part (``sales_chain.py``). A car fuels at the
dispenser simulator → the edge node's ``fuelling.completed`` becomes an order at the station server, shown on the
POS within a second of its arrival → the cashier pays part in cash and part by WeChat Pay (head office, the WeChat
Pay simulator, the customer paying the QR) → the receipt prints with both tenders → at the handover the shift
report's litres per nozzle equal the pump's totalizer movement and the cash count matches → head office holds the
order once, paid, and its ledger each payment once.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from selenium import webdriver
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys

from business_services.payments.receipts import CHINESE_MODE
from business_services.station_shifts.handlers import reconcile_all
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.events.payments import METHOD_NAMES, Method
from tests.e2e.web.browsing import Page
from tests.e2e.web.sales_chain import STATION, SalesChain, running

pytestmark = [pytest.mark.e2e, pytest.mark.serial]

ORDER_SHOWN_WITHIN_S = 1.0      # issue 15: the order is on the POS within a second of reaching the station server
CASH_FEN = 2000                 # the customer hands over a 20 元 note; WeChat pays the rest

# Each order row's first appearance in the page, by the browser's clock (the same machine's as the servers'):
# a MutationObserver notes it the moment Vue puts the row in, however busy the test's own polling is.
WATCH_ORDERS = """
window.__orderSeen = {};
const note = () => document.querySelectorAll('[data-order]').forEach((row) => {
  const no = row.dataset.order;
  if (!(no in window.__orderSeen) && row.offsetParent !== null) window.__orderSeen[no] = Date.now();
});
new MutationObserver(note).observe(document.body, { childList: true, subtree: true, attributes: true });
note();
"""


def press(page: Page, *keys: str) -> None:
    ActionChains(page.browser).send_keys(*keys).perform()


def type_into(page: Page, css: str, text: str) -> None:
    box = page.one(css)
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(text)


def rows(database_url: str, sql: str, *args: object) -> list[tuple[Any, ...]]:
    with psycopg.connect(database_url) as conn:
        return list(conn.execute(sql, args).fetchall())  # type: ignore[call-overload]


def log_in(base: str, username: str, password: str) -> dict[str, str]:
    answer = httpx.post(f"{base}/api/v1/auth/token", data={"username": username, "password": password}, timeout=10)
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def test_a_car_fuels_pays_cash_and_wechat_at_the_pos_and_head_office_has_it_once(
        web_dist: Path, database_url: str, station_database_url: str, broker: BrokerAddress, group: str,
        tmp_path: Path, browser: webdriver.Chrome, screenshots: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with running(database_url, station_database_url, broker, group, tmp_path / "data") as chain:
        monkeypatch.setenv("FORECOURT_RECEIPT_PRINTER", chain.printer.target)   # the station's printer setting
        page = Page(browser, chain.station_server, screenshots)
        sell(chain, page)


def sell(chain: SalesChain, page: Page) -> None:
    cashier = chain.logins["cashier"].password
    page.open("/pos/")                                     # the cashier logs in at the POS and names the terminal
    page.keyboard_login("cashier", cashier)
    page.until(lambda: page.browser.switch_to.active_element.get_attribute("name") == "terminal",
               "the terminal box has the focus")
    page.browser.switch_to.active_element.send_keys(Keys.CONTROL, "a")
    page.browser.switch_to.active_element.send_keys("pos-1", Keys.ENTER)
    page.text_becomes(".terminal-id", "pos-1")
    tile = '[data-nozzle="disp-01/1/1"]'
    page.until(lambda: page.one(tile).get_attribute("data-state") == "idle",
               "the pump reports through the edge node and the station server's own ingest")
    page.text_becomes(".head-office", "● 总部连接正常")    # WeChat Pay is offered: head office answers
    page.click(".open-shift")                              # the cashier opens the shift they are in charge of
    page.text_becomes(".takings", "¥0.00")
    shift_no = page.one(".shift-no").text.strip()
    page.browser.execute_script(WATCH_ORDERS)

    fuelled = chain.fuel(1, 1, 400)                        # 4 L or a little more of 92#: fuelling point 1, nozzle 1
    assert fuelled.volume_l == fuelled.totalizer_after_l - fuelled.totalizer_before_l > 0
    row = page.one("[data-order]")
    order_no = str(row.get_attribute("data-order"))
    [(created_at, amount_fen, volume_l)] = rows(chain.station_db, "SELECT created_at, amount_fen, volume_l "
                                                "FROM business.orders WHERE order_no = %s", order_no)
    assert (amount_fen, volume_l) == (fuelled.amount_fen, fuelled.volume_l)     # the pump's own figures
    seen_ms = page.browser.execute_script("return window.__orderSeen[arguments[0]]", order_no)
    shown_after_s = seen_ms / 1000 - created_at.timestamp()
    print(f"the order showed on the POS {shown_after_s:.3f} s after it reached the station server")
    assert 0 <= shown_after_s < ORDER_SHOWN_WITHIN_S, f"the order showed {shown_after_s:.3f} s after it arrived"

    pay_cash_and_wechat(chain, page, order_no, amount_fen)
    payments = rows(chain.station_db, """SELECT p.payment_no, p.method, a.amount_fen, p.state
        FROM business.payments p JOIN business.payment_allocations a USING (payment_no)
        WHERE a.order_no = %s ORDER BY p.method""", order_no)
    assert [(m, fen, state) for _, m, fen, state in payments] == [
        ("cash", CASH_FEN, "succeeded"), ("wechat", amount_fen - CASH_FEN, "succeeded")]
    print_receipt(chain, page, order_no, amount_fen)
    hand_over(chain, page, shift_no, fuelled.totalizer_before_l, fuelled.totalizer_after_l, fuelled.volume_l)
    at_head_office(chain, order_no, amount_fen, [p[0] for p in payments], shift_no)
    assert chain.failed_services() == []


def pay_cash_and_wechat(chain: SalesChain, page: Page, order_no: str, amount_fen: int) -> None:
    """Enter on the order; 20 元 cash, the rest by WeChat (F2 on the second row); the customer pays the QR."""
    press(page, Keys.ENTER)
    page.text_becomes(".pay-dialog .due", f"¥{amount_fen / 100:.2f}")
    page.click(".pay-dialog .add")
    type_into(page, 'input[name="tender-0"]', f"{CASH_FEN / 100:.0f}")
    rest = f"{(amount_fen - CASH_FEN) / 100:.2f}"
    page.until(lambda: page.one('input[name="tender-1"]').get_attribute("value") == rest,
               "the WeChat row takes what the cash leaves")
    press(page, Keys.F2)
    page.until(lambda: "微信" in page.one('.pay-dialog [data-tender="1"]').text, "the second row is WeChat")
    type_into(page, 'input[name="received"]', f"{CASH_FEN / 100:.0f}")
    page.text_becomes(".pay-dialog .change", "¥0.00")
    press(page, Keys.ENTER)
    page.until(lambda: page.one(".pay-dialog .qr").text.startswith("weixin://"), "the WeChat QR is shown")
    page.shot("e2e-qr")
    [(payment_no,)] = rows(chain.station_db, """SELECT p.payment_no FROM business.payments p
        JOIN business.payment_allocations a USING (payment_no)
        WHERE a.order_no = %s AND p.method = 'wechat' AND p.state = 'pending'""", order_no)
    assert page.all(f'[data-order="{order_no}"]'), "not paid while the customer has not paid"
    paid = httpx.post(f"{chain.wechat_url}/_sim/pay/{payment_no}", timeout=10)    # the customer scans and pays
    assert paid.status_code < 300, paid.text
    page.until(lambda: not page.all(".pay-dialog"), "the dialog closes once WeChat Pay says paid")
    page.until(lambda: not page.all(f'[data-order="{order_no}"]'), "the paid order left the payable list")
    page.text_becomes(".takings", f"¥{amount_fen / 100:.2f}")


def print_receipt(chain: SalesChain, page: Page, order_no: str, amount_fen: int) -> None:
    """打印小票 on the paid alert: ESC/POS reaches the printer; the receipt names both tenders."""
    page.until(lambda: any(t.split() == [order_no, "查看小票", "打印小票"] for t in page.texts(".paid .receipt")),
               "the paid alert offers the order's receipt")
    page.click(".paid .receipt .el-button", "打印小票")
    job = chain.call(chain.printer.next_job(timeout_s=15))
    text = job.replace(CHINESE_MODE, b"").decode("gb18030", errors="replace")
    cash, wechat = f"{CASH_FEN / 100:.2f} 元", f"{(amount_fen - CASH_FEN) / 100:.2f} 元"
    assert order_no in text and f"{amount_fen / 100:.2f} 元" in text, text
    def tender(method: Method) -> list[list[str]]:
        return [line.split()[-2:] for line in text.splitlines() if line.startswith(METHOD_NAMES[method])]
    assert tender(Method.CASH) == [cash.split()] and tender(Method.WECHAT) == [wechat.split()]
    page_html = httpx.get(f"{chain.station_server}/api/v1/stations/{STATION}/orders/{order_no}/receipt",
                          headers=log_in(chain.station_server, "cashier", chain.logins["cashier"].password),
                          timeout=10).text
    assert all(part in page_html for part in (METHOD_NAMES[Method.CASH], cash, METHOD_NAMES[Method.WECHAT], wechat))
    page.shot("e2e-paid")


def hand_over(chain: SalesChain, page: Page, shift_no: str, before_l: Any, after_l: Any, volume_l: Any) -> None:
    """交接班: end readings from the pump's live totalizers, one 20 元 note counted, Ctrl+Enter; then the report."""
    page.click('[data-nav="handover"]')
    page.one(".handover-dialog")
    end = page.one('input[name="end-disp-01-1-1"]')
    assert end.get_attribute("value") == f"{chain.totalizer_l(1, 1):.2f}" == f"{after_l:.2f}"
    type_into(page, f'input[name="cash-{CASH_FEN}"]', "1")
    page.text_becomes(".handover-dialog .over-short", "¥0.00")
    page.shot("e2e-handover")
    ActionChains(page.browser).key_down(Keys.CONTROL).send_keys(Keys.ENTER).key_up(Keys.CONTROL).perform()
    page.until(lambda: page.browser.switch_to.active_element.get_attribute("name") == "username",
               "handed over: the cashier is logged out")
    [(status, report)] = rows(chain.station_db, "SELECT status, report FROM business.shifts WHERE shift_no = %s",
                              shift_no)
    assert status == "closed"
    sold = [n for n in report["by_nozzle"] if (n["pump"], n["fuelling_point"], n["nozzle"]) == ("disp-01", 1, 1)]
    assert [(n["start_l"], n["end_l"], n["volume_l"], n["difference_l"]) for n in sold] == \
        [(f"{before_l:.2f}", f"{after_l:.2f}", f"{volume_l:.2f}", "0.00")]
    assert {n["difference_l"] for n in report["by_nozzle"]} == {"0.00"}      # no other nozzle moved unrecorded
    assert (report["cash"]["expected_fen"], report["cash"]["counted_fen"], report["cash"]["over_short_fen"]) == \
        (CASH_FEN, CASH_FEN, 0)


def at_head_office(chain: SalesChain, order_no: str, amount_fen: int, payment_nos: list[str], shift_no: str) -> None:
    """Head office's copy, as finance reads it, and its ledger: the order once, paid; each payment once; the WeChat
    payment it took from the provider once; the shift's totals, which its reconciliation finds matched."""
    finance = log_in(chain.head_office, "finance", chain.logins["finance"].password)
    url = f"{chain.head_office}/api/v1/stations/{STATION}/reported-orders"

    def reported() -> list[dict[str, Any]]:
        answer = httpx.get(url, headers=finance, timeout=10)
        assert answer.status_code == 200, answer.text
        return [o for o in answer.json()["items"] if o["order_no"] == order_no]

    def entries() -> list[tuple[Any, ...]]:
        return rows(chain.head_office_db, "SELECT reference, count(*) FROM business.ledger_entries "
                                          "WHERE reference = ANY(%s) GROUP BY reference ORDER BY reference",
                    payment_nos)

    def shift() -> list[tuple[Any, ...]]:
        return rows(chain.head_office_db, "SELECT sales_fen, cash_counted_fen, over_short_fen "
                                          "FROM business.station_shifts WHERE station = %s AND shift_no = %s",
                    STATION, shift_no)

    until(lambda: [o["status"] for o in reported()] == ["paid"] and len(entries()) == len(payment_nos)
          and shift() == [(amount_fen, CASH_FEN, 0)], f"head office holds {order_no}, its payments and its shift")
    [order] = reported()
    assert (order["amount_fen"], order["paid_fen"], order["shift_no"]) == (amount_fen, amount_fen, shift_no)
    assert entries() == sorted((no, 1) for no in payment_nos)
    [(sales,)] = rows(chain.head_office_db, "SELECT balance FROM business.ledger_balances WHERE code = %s",
                      f"sales:{STATION}")
    assert sales == amount_fen
    assert rows(chain.head_office_db, "SELECT method, state, captured_fen FROM business.online_payments") == [
        ("wechat", "succeeded", amount_fen - CASH_FEN)]
    chain.call(_reconcile(chain.head_office_db))        # the job head office runs every 10 minutes, now
    assert rows(chain.head_office_db, "SELECT status FROM business.station_shifts WHERE shift_no = %s",
                shift_no) == [("matched",)]
    assert not rows(chain.head_office_db, "SELECT 1 FROM business.event_dead_letters")
    assert not rows(chain.station_db, "SELECT 1 FROM business.event_dead_letters")


async def _reconcile(database_url: str) -> None:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await reconcile_all(conn, datetime.now(UTC))


def until(condition: Any, what: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not so after {timeout_s} s"
        time.sleep(0.2)
