"""Issue 16, done when: prices through the whole chain, every part real (``sales_chain.py``): head office's API,
approvals and business service with its procrastinate worker (the job at the change's time, the resend), the
broker, the edge node writing each price to the dispenser simulator over Modbus and reading it back, the station
server following the edge's price-set file and turning each fuelling into an order.

1. A scheduled change above the limit waits for a second person's approval, goes down at its time, and is
   applied between two fuellings: the one in progress keeps its price and its order the old set; the nozzle then
   reads back the new price and the next order carries the new set; head office shows the set in force.
2. The station's uplink is down at the scheduled time: it sells on under the old set, and when the line returns
   head office's resend delivers the set and the pumps apply it; no order is priced by a set that was not in force
   on its pump (checked over every order: the set's price for the nozzle, and the times).
3. A pump that refuses the new price leaves the set partly applied at head office (API and the back-office page in
   Chromium: 部分生效, the nozzle refused) and on the POS (the nozzle still at its old price), and the station keeps
   selling: a fuelling on another nozzle becomes an order at the new price and is paid.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psycopg
import pytest
from selenium import webdriver
from selenium.webdriver.common.keys import Keys

from business_services import jobs
from business_services.prices import jobs as price_jobs
from business_services.prices.demo import DEMO_PRICES
from telemetry.contracts.broker import BrokerAddress
from tests.e2e.web.browsing import Page
from tests.e2e.web.sales_chain import STATION, SalesChain, running

pytestmark = pytest.mark.e2e

T = TypeVar("T")
RESEND_AFTER_S = 3          # head office sends an unanswered set again after this long (production: 60 s) …
#: … checked every 2 s (production: every minute); the other jobs as in production
QUICK = tuple(replace(j, cron="* * * * * */2", run=partial(price_jobs.resend_unapplied_price_sets,
                                                             after_s=RESEND_AFTER_S))
              if j.name == "resend_unapplied_price_sets" else j for j in jobs.JOBS)


def until(check: Callable[[], T | None], what: str, within_s: float = 30) -> T:
    """Poll ``check`` until it answers something truthy; that answer."""
    deadline = time.monotonic() + within_s
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"waited {within_s} s for {what}"
        time.sleep(0.1)


def log_in(base: str, username: str, password: str) -> dict[str, str]:
    answer = httpx.post(f"{base}/api/v1/auth/token", data={"username": username, "password": password}, timeout=10)
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def as_user(chain: SalesChain, base: str, username: str) -> dict[str, str]:
    return log_in(base, username, chain.logins[username].password)


def get(base: str, path: str, headers: dict[str, str]) -> Any:
    answer = httpx.get(f"{base}{path}", headers=headers, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()


def post(base: str, path: str, headers: dict[str, str], body: dict[str, Any], status: int = 200) -> Any:
    answer = httpx.post(f"{base}{path}", headers={**headers, "Idempotency-Key": uuid.uuid4().hex}, json=body,
                        timeout=10)
    assert answer.status_code == status, answer.text
    return answer.json()


def request_change(chain: SalesChain, who: dict[str, str], grades: dict[str, int], reason: str,
                   effective_at: datetime | None = None) -> dict[str, Any]:
    """调价申请 through head office's API, with the second confirmation."""
    body = {"stations": [STATION], "grades": grades, "reason": reason, "confirmed": True,
            "effective_at": None if effective_at is None else effective_at.isoformat()}
    return dict(post(chain.head_office, "/api/v1/price-changes", who, body))


def change_state(chain: SalesChain, who: dict[str, str], change_no: str) -> dict[str, Any]:
    return dict(get(chain.head_office, f"/api/v1/price-changes/{change_no}", who))


def nozzles_of(prices: dict[str, Any], version: int) -> dict[tuple[int, int], dict[str, Any]]:
    """The nozzles of ``GET …/prices`` by (fuelling point, nozzle), when its newest set is ``version``."""
    latest = prices["latest"]
    if latest is None or latest["version"] != version:
        return {}
    return {(n["fuelling_point"], n["nozzle"]): n for n in prices["nozzles"]}


def rows(database_url: str, sql: str, *args: object) -> list[tuple[Any, ...]]:
    with psycopg.connect(database_url) as conn:
        return list(conn.execute(sql, args).fetchall())  # type: ignore[call-overload]


def orders(chain: SalesChain) -> list[tuple[Any, ...]]:
    """The station's fuelling orders, oldest first: (order_no, fp, nozzle, price_set, unit price, amount, started)."""
    return rows(chain.station_db, """
        SELECT o.order_no, o.fuelling_point, o.nozzle, o.price_set, o.price_fen_per_l, o.amount_fen, f.started_at
        FROM business.orders o JOIN business.fuelling_transactions f ON f.event_id = o.fuelling_event_id
        WHERE o.kind = 'fuelling' ORDER BY o.fuelled_at, o.order_no""")


def no_order_priced_by_a_set_not_in_force(chain: SalesChain) -> None:
    """Every order: its unit price is its set's price for its nozzle (head office's set), its fuelling started
    after that set was applied on the nozzle and before the next set was (the pump's clock counts whole seconds),
    and head office's copy of the order names the same set."""
    applied = {(v, fp, n): (price, at) for v, fp, n, price, at in rows(chain.head_office_db, """
        SELECT version, fuelling_point, nozzle, price_fen, at FROM business.price_set_nozzles
        WHERE station = %s AND device = 'disp-01' AND state = 'applied'""", STATION)}
    slack = timedelta(seconds=1)
    found = orders(chain)
    assert found
    for order_no, fp, nozzle, version, price, _, started in found:
        assert version is not None, f"{order_no} names no price set"
        set_price, applied_at = applied[(version, fp, nozzle)]
        assert price == set_price, f"{order_no}: sold at {price}, set {version} says {set_price}"
        assert started >= applied_at - slack, f"{order_no} started before set {version} was on its pump"
        following = applied.get((version + 1, fp, nozzle))
        assert following is None or started < following[1] + slack, \
            f"{order_no} started after set {version + 1} was on its pump"
    copies = dict(rows(chain.head_office_db, "SELECT order_no, price_set FROM business.station_orders"))
    assert {o[0]: copies.get(o[0]) for o in found} == {o[0]: o[3] for o in found}


def test_a_scheduled_change_over_the_limit_is_approved_and_applied_between_two_fuellings(
        database_url: str, station_database_url: str, broker: BrokerAddress, group: str, tmp_path: Path) -> None:
    with running(database_url, station_database_url, broker, group, tmp_path / "data", DEMO_PRICES, QUICK) as chain:
        region, admin = as_user(chain, chain.head_office, "region"), as_user(chain, chain.head_office, "admin")
        chain.start_fuelling(1, 1)                 # a car fuels 92# at 7.89 before the change's time …
        effective = datetime.now(UTC) + timedelta(seconds=6)
        asked = request_change(chain, region, {"92": 839}, "国际油价上涨 (step over the limit)", effective)
        assert asked["state"] == "awaiting_approval" and asked["approval_id"], asked        # +50 fen is +6.3 %
        own = post(chain.head_office, f"/api/v1/approvals/{asked['approval_id']}/approve", region, {}, status=403)
        assert "不能审批自己提交的申请" in own["detail"]          # region may decide approvals, not its own
        post(chain.head_office, f"/api/v1/approvals/{asked['approval_id']}/approve", admin, {"comment": "同意"})
        assert change_state(chain, admin, asked["change_no"])["state"] == "scheduled"
        waiting = get(chain.head_office, f"/api/v1/stations/{STATION}/prices", admin)
        assert (waiting["version_in_force"], waiting["latest"]["state"], waiting["latest"]["version"]) == (
            1, "scheduled", None)                                  # no version until it is sent

        sent = until(lambda: (c := change_state(chain, admin, asked["change_no"]))["state"] == "sent" and c,
                     "the job sends the change at its time")
        assert datetime.fromisoformat(sent["sent_at"]) >= effective and sent["approved_by"] == "admin"
        assert rows(chain.head_office_db, "SELECT status::text FROM procrastinate_jobs WHERE task_name = %s "
                    "AND scheduled_at = %s", "send_due_price_changes", effective) == [("succeeded",)]   # its own job
        assert {a for (a,) in rows(chain.head_office_db, "SELECT action FROM business.audit_log WHERE target = %s",
                                   f"price-change:{asked['change_no']}")} == {
            "prices.change.request", "prices.change.approve", "prices.change.send"}
        on_pumps = until(lambda: (n := nozzles_of(get(chain.head_office, f"/api/v1/stations/{STATION}/prices",
                                                      admin), 2))
                         and n[(2, 1)]["state"] == "applied" and n[(1, 1)]["state"] == "pending" and n,
                         "the idle side applied, the fuelling side waits")
        assert on_pumps[(1, 2)]["state"] == "pending"          # the same fuelling point: waits for the car too
        assert chain.pump_price_fen(1, 1) == 789 and chain.pump_price_fen(2, 1) == 839   # read back on fp 2

        during = chain.finish_fuelling(1, 1, 300)          # … and hangs up after the change went down
        until(lambda: len(orders(chain)) == 1, "the order of the fuelling in progress")
        [(_, _, _, old_set, old_price, amount, _)] = orders(chain)
        assert (old_set, old_price, amount) == (1, 789, during.amount_fen)   # the old price, the old set

        until(lambda: (p := get(chain.head_office, f"/api/v1/stations/{STATION}/prices", admin))
              ["version_in_force"] == 2 and p, "every nozzle applied: the set in force at head office")
        assert chain.pump_price_fen(1, 1) == 839                 # written once the car left, and read back
        after = chain.fuel(1, 1, 200)
        until(lambda: len(orders(chain)) == 2, "the next fuelling's order")
        (_, _, _, new_set, new_price, amount, _) = orders(chain)[1]
        assert (new_set, new_price, amount) == (2, 839, after.amount_fen)

        station = get(chain.station_server, f"/api/v1/stations/{STATION}/prices",
                      as_user(chain, chain.station_server, "manager"))
        assert station["version_in_force"] == 2 and station["latest"]["state"] == "in_force"
        in_force = get(chain.head_office, f"/api/v1/stations/{STATION}/prices", admin)
        assert in_force["latest"]["state"] == "in_force"
        assert {g["grade"]: g["price_fen"] for g in in_force["grades"]} == {"92": 839, "95": 836}
        history = get(chain.head_office, f"/api/v1/stations/{STATION}/price-sets/2", admin)
        assert (history["state"], history["applied"], history["refused"], history["pending"]) == ("in_force", 4, 0, 0)
        assert (history["change_no"], history["requested_by"], history["approved_by"]) == (
            asked["change_no"], "region", "admin")
        assert datetime.fromisoformat(history["in_force_at"]) > datetime.fromisoformat(history["sent_at"])
        until(lambda: len(rows(chain.head_office_db, "SELECT 1 FROM business.station_orders")) == 2,
              "head office holds both orders")
        no_order_priced_by_a_set_not_in_force(chain)
        assert chain.failed_services() == []


def test_a_station_offline_at_the_scheduled_time_applies_the_change_when_it_returns(
        database_url: str, station_database_url: str, broker: BrokerAddress, group: str, tmp_path: Path) -> None:
    with running(database_url, station_database_url, broker, group, tmp_path / "data", DEMO_PRICES, QUICK) as chain:
        region = as_user(chain, chain.head_office, "region")
        effective = datetime.now(UTC) + timedelta(seconds=4)
        asked = request_change(chain, region, {"92": 799, "95": 846}, "月度调价", effective)
        assert asked["state"] == "scheduled", asked                  # within the limits: no approval
        assert chain.edge is not None
        chain.call(chain.uplink.cut())                               # the station's line is down
        until(lambda: not chain.edge.connected.is_set(), "the edge node notices")   # type: ignore[union-attr]
        offline = [chain.fuel(1, 1, 200)]                            # sold while the line is down …

        until(lambda: change_state(chain, region, asked["change_no"])["state"] == "sent", "sent at its time")
        until(lambda: rows(chain.head_office_db, "SELECT 1 FROM business.outbox WHERE event_id = %s "
                           "AND published_at IS NOT NULL", f"price-set/{STATION}/2"),
              "head office published the set (the station did not get it)")
        offline += [chain.fuel(1, 1, 150), chain.fuel(2, 2, 120)]   # … also after the change's time
        assert chain.edge.prices.version == 1 and chain.pump_price_fen(1, 1) == 789
        assert orders(chain) == []                                   # the fuellings wait in the edge's outbox

        restored = datetime.now(UTC)
        chain.call(chain.uplink.restore())                           # the line is back
        until(lambda: get(chain.head_office, f"/api/v1/stations/{STATION}/prices", region)
              ["version_in_force"] == 2, "head office's resend delivers the set and the pumps apply it", 45)
        assert (chain.pump_price_fen(1, 1), chain.pump_price_fen(2, 1), chain.pump_price_fen(2, 2)) == (799, 799, 846)
        [(published,)] = rows(chain.head_office_db, "SELECT published_at FROM business.outbox WHERE event_id = %s",
                              f"price-set/{STATION}/2")
        assert published > restored                 # sent again (the same message) once the line was back
        until(lambda: len(orders(chain)) == 3, "the orders sold offline reach the station server")
        assert [(fp, n, s, p) for _, fp, n, s, p, _, _ in orders(chain)] == [
            (1, 1, 1, 789), (1, 1, 1, 789), (2, 2, 1, 836)]          # the old set: the pumps' prices then

        back = chain.fuel(2, 1, 200)            # (fp 1 holds two unpaid sales: the pump's limit, IFSF)
        until(lambda: len(orders(chain)) == 4, "the order after the line returned")
        assert orders(chain)[-1][3:6] == (2, 799, back.amount_fen)
        until(lambda: len(rows(chain.head_office_db, "SELECT 1 FROM business.station_orders")) == 4,
              "head office holds every order")
        no_order_priced_by_a_set_not_in_force(chain)
        assert chain.failed_services() == []


def test_a_pump_that_refuses_leaves_the_change_partly_applied_and_the_station_sells_on(
        web_dist: Path, database_url: str, station_database_url: str, broker: BrokerAddress, group: str,
        tmp_path: Path, browser: webdriver.Chrome, screenshots: Path) -> None:
    with running(database_url, station_database_url, broker, group, tmp_path / "data", DEMO_PRICES, QUICK) as chain:
        assert chain.dispenser is not None
        chain.call(_refuse(chain, 2, 1))                             # fp 2's 92# price board takes no new price
        region = as_user(chain, chain.head_office, "region")
        asked = request_change(chain, region, {"92": 799}, "92# 上调一角")
        assert asked["state"] == "sent", asked

        partly = until(lambda: (p := get(chain.head_office, f"/api/v1/stations/{STATION}/prices", region))
                       ["latest"]["state"] == "partly_applied" and p, "the refusal reaches head office")
        states = {(n["fuelling_point"], n["nozzle"]): n["state"] for n in partly["nozzles"]}
        until(lambda: {(n["fuelling_point"], n["nozzle"]): n["state"] for n in get(
            chain.head_office, f"/api/v1/stations/{STATION}/prices", region)["nozzles"]} == {
            (1, 1): "applied", (1, 2): "applied", (2, 1): "refused", (2, 2): "applied"},
            f"the others applied (now {states})")
        assert partly["version_in_force"] == 1
        [(detail,)] = rows(chain.head_office_db, "SELECT after->>'detail' FROM business.audit_log WHERE action = "
                           "'prices.nozzle.refused' AND target = %s", f"{STATION}/disp-01/fp2/n1")  # alarm-worthy
        assert "789" in detail                                       # the price the pump still reads back
        assert (chain.pump_price_fen(1, 1), chain.pump_price_fen(2, 1)) == (799, 789)
        [listed] = get(chain.head_office, "/api/v1/prices/stations", region)["items"]
        assert (listed["state"], listed["version_in_force"], listed["version_latest"]) == ("partly_applied", 1, 2)
        history = get(chain.head_office, f"/api/v1/stations/{STATION}/price-sets/2", region)
        assert (history["state"], history["applied"], history["refused"], history["pending"]) == (
            "partly_applied", 3, 1, 0)
        station = until(lambda: (p := get(chain.station_server, f"/api/v1/stations/{STATION}/prices",
                                          as_user(chain, chain.station_server, "manager")))
                        ["latest"]["state"] == "partly_applied" and p, "the station server knows it too")
        [behind] = [n for n in station["nozzles"] if n["state"] != "applied"]
        assert (behind["fuelling_point"], behind["nozzle"], behind["state"], behind["old_price_fen"]) == (
            2, 1, "refused", 789)

        back_office(chain, Page(browser, chain.head_office, screenshots))
        pos = Page(browser, chain.station_server, screenshots)
        at_the_pos(chain, pos)

        cashier = as_user(chain, chain.station_server, "cashier")
        for fp, price, version in ((1, 799, 2), (2, 789, 1)):     # the refusing nozzle sells on at its old price
            fuelled = chain.fuel(fp, 1, 200)
            order = until(lambda fp=fp: next((o for o in orders(chain) if o[1] == fp), None), f"fp {fp}'s order")
            assert order[3:6] == (version, price, fuelled.amount_fen)
            paid = post(chain.station_server, f"/api/v1/stations/{STATION}/payments", cashier, {
                "terminal": "pos-1", "order_nos": [order[0]],
                "tenders": [{"method": "cash", "amount_fen": fuelled.amount_fen}]})
            assert [p["state"] for p in paid["payments"]] == ["succeeded"]
        assert rows(chain.station_db, "SELECT DISTINCT status FROM business.orders") == [("paid",)]
        no_order_priced_by_a_set_not_in_force(chain)
        assert chain.failed_services() == []


async def _refuse(chain: SalesChain, fp: int, nozzle: int) -> None:
    assert chain.dispenser is not None
    chain.dispenser.model.refuse_prices(fp, nozzle)


def back_office(chain: SalesChain, page: Page) -> None:
    """油价 → demo-01: 部分生效, the refusing nozzle 被拒绝 and still at its old price."""
    page.open("/admin/")
    page.until(lambda: "/admin/login" in page.browser.current_url, "on the login page")
    page.keyboard_login("region", chain.logins["region"].password)
    page.until(lambda: page.all(".topbar .user-name"), "signed in")
    page.click(".modules .el-menu-item", "价格管理")
    page.click(".side .el-menu-item", "油价")
    page.until(lambda: any(r.text.startswith(STATION) and "部分生效" in r.text
                           for r in page.all(".list-page .el-table__body tr.el-table__row")), "部分生效 in the list")
    page.click(".list-page .el-table__body tr.el-table__row .show")
    page.text_becomes(".station-prices .latest-state", "部分生效")
    refused = page.until(lambda: next((r for r in page.all(".nozzle-states .el-table__body tr")
                                       if "disp-01 · 2-1" in r.text), None), "the refusing nozzle's row")
    assert "被拒绝" in refused.text and "仍显示旧价 7.89" in refused.text
    assert sorted(page.texts(".nozzle-states .nozzle-state")) == ["已生效", "已生效", "已生效", "被拒绝"]
    page.shot("price-chain-back-office")


def at_the_pos(chain: SalesChain, page: Page) -> None:
    """The cashier's POS names the nozzle still on the old price; the cashier opens the shift to sell on."""
    page.open("/pos/")
    page.keyboard_login("cashier", chain.logins["cashier"].password)
    page.until(lambda: page.browser.switch_to.active_element.get_attribute("name") == "terminal",
               "the terminal box has the focus")
    page.browser.switch_to.active_element.send_keys(Keys.CONTROL, "a")
    page.browser.switch_to.active_element.send_keys("pos-1", Keys.ENTER)
    page.text_becomes(".terminal-id", "pos-1")
    refused = page.one('.price-alert .old-price[data-nozzle="disp-01/2/1"]')
    assert refused.get_attribute("data-state") == "refused"
    assert "仍为旧价 ¥7.89" in refused.text and "新价 ¥7.99" in refused.text and "加油机拒绝新价" in refused.text
    assert len(page.all(".price-alert .old-price")) == 1             # the other nozzles took it
    page.until(lambda: page.one('[data-nozzle="disp-01/1/1"]').get_attribute("data-state") == "idle",
               "the pump reports through the station server's own ingest")
    page.click(".open-shift")
    page.text_becomes(".takings", "¥0.00")
    page.shot("price-chain-pos")
