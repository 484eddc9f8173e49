"""价格管理 in a real Chromium against head office (create_app on a test database holding the demo company, the
demo stations imported from config/stations/demo.yaml and demo-01's first price set seeded: 92# 7.89, 95# 8.36,
in force once its nozzles reported it applied through head office's consumer):

- 油价 shows the demo prices; a change within the limits goes 预览 (old → new, 在限额内) → 提交 → the second
  confirmation naming station, price and time → 已下发; the station's drawer then shows the nozzles of 92# 待生效
  with the old price they still show, and live (polled) the reports as they arrive: one applied, one refused
  (部分生效);
- a change above the limit is marked 超单次限额 and 需审批 in the preview and answered 需审批; the approver reads it
  in 审批中心 as old → new per line;
- the price board (/admin/board/demo-01) signs in on its own and shows the prices in big digits;
- a user without price:rule sees no policy entry and is refused the typed-in address; a holder saves limits
  and adds and ends a special-price rule;
- a regional manager (price:rule, not price:policy) sees the company's limits read-only and adds a fleet
  agreement price (合同价, which needs its validity) and a tiered price (阶梯价, two tiers over the month) for
  its station with the rule forms.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement

from business_services.audit.model import Actor
from business_services.bootstrap import build_bus
from business_services.consumer import EventConsumer
from business_services.prices import handlers
from business_services.unit_of_work import UnitOfWork
from forecourt.roles import Role, policy
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.prices import PriceApplied
from tests.e2e.web.browsing import Page
from tests.e2e.web.conftest import RealSite
from tests.e2e.web.test_back_office import log_in
from tests.e2e.web.test_stations_page import import_stations

pytestmark = pytest.mark.e2e

STATION = "demo-01"
PRICES = {"92": 789, "95": 836}


def _token(site: RealSite, username: str) -> str:
    answer = httpx.post(f"{site.url}/api/v1/auth/token", data={
        "username": username, "password": site.logins[username].password})
    return str(answer.json()["access_token"])


def _nozzles(site: RealSite) -> list[dict[str, object]]:
    """demo-01's nozzles under its latest set, as head office lists them."""
    answer = httpx.get(f"{site.url}/api/v1/stations/{STATION}/prices",
                       headers={"Authorization": f"Bearer {_token(site, 'admin')}"})
    assert answer.status_code == 200, answer.text
    return list(answer.json()["nozzles"])


async def _report(database_url: str, broker: BrokerAddress, version: int, nozzles: list[dict[str, object]],
                  state: str, detail: str = "") -> None:
    """price.applied for each nozzle, as the edge node reports it, through head office's consumer."""
    consumer = EventConsumer(database_url, broker, bus=build_bus(policy(Role.HEAD_OFFICE).contexts))
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        for n in nozzles:
            report = PriceApplied(station=STATION, version=version, device=str(n["device"]),
                                  fuelling_point=int(str(n["fuelling_point"])), nozzle=int(str(n["nozzle"])),
                                  grade=str(n["grade"]), price_fen=int(str(n["price_fen"])), state=state,  # type: ignore[arg-type]
                                  detail=detail, at=datetime.now(UTC))
            event = report.envelope(source=f"edge:{STATION}", event_id=report.event_id())
            await consumer.handle(conn, f"forecourt/v1/g/{STATION}/events/{event.type}", event.to_bytes())


async def _seed(database_url: str, group: str) -> None:
    async with await psycopg.AsyncConnection.connect(database_url) as conn, \
            UnitOfWork(conn, Actor.system("test")) as uow:
        await handlers.seed_set(handlers.SeedPriceSet(group, STATION, PRICES), uow)


@pytest.fixture
def priced_site(real_site: RealSite, broker: BrokerAddress, group: str, tmp_path: Path) -> RealSite:
    """The demo stations imported, demo-01's first set seeded and applied on every nozzle (in force)."""
    import_stations(real_site.database_url, group, tmp_path)
    asyncio.run(_seed(real_site.database_url, group))
    asyncio.run(_report(real_site.database_url, broker, 1, _nozzles(real_site), "applied"))
    return real_site


def _open(page: Page, entry: str, path: str) -> None:
    page.click(".modules .el-menu-item", "价格管理")
    page.click(".side .el-menu-item", entry)
    page.until(lambda: f"/admin{path}" in page.browser.current_url, f"on {entry}")


def _row_text(page: Page, first_cell: str) -> str:
    rows = page.all(".list-page .el-table__body tr.el-table__row")
    return next((r.text for r in rows if r.text.startswith(first_cell)), "")


def _request_change(page: Page, grade: str, price: str, reason: str) -> None:
    """调价申请 for demo-01: one grade's new price, at once, previewed."""
    _open(page, "调价申请", "/prices/change")
    page.click(".price-change [data-field=stations]")
    page.click(".el-select-dropdown__item", f"畅加测试站 ({STATION})")
    page.browser.switch_to.active_element.send_keys(Keys.ESCAPE)        # closes the dropdown
    page.one(f".grade-lines input[name=price-{grade}]").send_keys(price)
    page.one(".price-change input[name=reason]").send_keys(reason)
    page.click(".price-change button.preview")
    page.one(".price-preview .preview-lines")


def _confirm(page: Page, *expected: str, keyboard: bool = False) -> None:
    """提交调价 opens the second confirmation naming what will change; 确认调价 (or, by keyboard, Enter on the
    focused 确认调价) sends it."""
    page.click(".price-change button.submit")
    box = page.one(".price-confirm-box")
    for text in expected:
        page.until(lambda text=text: text in box.text, f"the confirmation names {text}")
    page.shot("prices-confirm")
    if keyboard:
        page.until(lambda: page.browser.switch_to.active_element.text.strip() == "确认调价", "确认调价 focused")
        page.browser.switch_to.active_element.send_keys(Keys.ENTER)
    else:
        page.click(".price-confirm-box .el-message-box__btns button", "确认调价")


def test_the_list_shows_the_demo_prices_and_a_change_within_limits_is_sent_and_followed_live(
        browser: webdriver.Chrome, priced_site: RealSite, broker: BrokerAddress, screenshots: Path) -> None:
    page = Page(browser, priced_site.url, screenshots)
    log_in(page, priced_site, "region")
    _open(page, "油价", "/prices/list")
    page.until(lambda: "92号汽油 7.89" in _row_text(page, STATION), "demo-01's prices in the list")
    row = _row_text(page, STATION)
    assert "95号汽油 8.36" in row and "已生效" in row
    page.shot("prices-list")

    _request_change(page, "92", "7.99", "执行 12 月调价通知")
    page.one(".price-preview .within-limits")
    assert not page.all(".price-preview .needs-approval")
    assert page.texts(".preview-lines .old") == ["7.89"] and page.texts(".preview-lines .new") == ["7.99"]
    assert page.texts(".preview-lines .delta") == ["0.10"]
    page.text_becomes(".price-preview .affected", "影响油枪 2 把")       # the two 92# nozzles of disp-01
    page.shot("prices-preview")
    _confirm(page, "畅加测试站", "92号汽油 7.99 元", "立即")
    page.text_becomes(".change-result .result-state", "已下发")
    change_no = page.one(".change-result .result-no").text.removeprefix("调价单 ").strip()
    page.shot("prices-sent")

    _open(page, "油价", "/prices/list")
    page.click(".list-page .el-table__body tr.el-table__row .show")
    page.until(lambda: page.texts(".nozzle-states .nozzle-state") == ["待生效"] * 4, "the new set pending everywhere")
    assert page.texts(".nozzle-states .old-price") == ["仍显示旧价 7.89"] * 2       # 92#'s two nozzles
    assert "下发中" in page.one(".station-prices .latest-state").text
    nozzles = _nozzles(priced_site)
    refusing = next(n for n in nozzles if n["grade"] == "92")
    asyncio.run(_report(priced_site.database_url, broker, 2, [n for n in nozzles if n is not refusing], "applied"))
    asyncio.run(_report(priced_site.database_url, broker, 2, [refusing], "refused", "泵未回读到新价"))
    page.until(lambda: sorted(page.texts(".nozzle-states .nozzle-state")) == ["已生效", "已生效", "已生效", "被拒绝"],
               "the reports shown live (no reload)")
    assert page.texts(".nozzle-states .old-price") == ["仍显示旧价 7.89"]              # the refusing nozzle
    page.text_becomes(".station-prices .latest-state", "部分生效")
    assert any("泵未回读到新价" in text for text in page.texts(".nozzle-states td"))
    page.until(lambda: change_no in page.one(".price-history").text, "the change in the history")
    history = page.one(".price-history .el-table__body tr.el-table__row").text
    assert "region" in history and "执行 12 月调价通知" in history
    page.shot("prices-live")
    page.click(".el-drawer__close-btn")

    _open(page, "调价日历", "/prices/calendar")                          # the change on today's date
    page.click(f".price-calendar .entry[data-change='{change_no}']")
    page.text_becomes(".change-detail .change-no", change_no)
    page.text_becomes(".change-detail .change-state", "已下发")
    assert page.texts(".change-detail .line-new") == ["7.99"] and not page.all(".change-detail .cancel-change")
    page.shot("prices-calendar")
    tabs = browser.window_handles
    page.click(".change-detail .notice-html")                            # 调价公告 in a new tab, with the token
    page.until(lambda: len(browser.window_handles) == len(tabs) + 1, "the notice's tab")
    browser.switch_to.window(next(h for h in browser.window_handles if h not in tabs))
    page.until(lambda: "7.99" in browser.find_element(By.TAG_NAME, "body").text, "the notice names the new price")
    assert "调价公告" in browser.find_element(By.TAG_NAME, "body").text
    page.shot("prices-notice")


def test_a_change_over_the_limit_needs_approval_and_the_approver_reads_it(
        browser: webdriver.Chrome, priced_site: RealSite, screenshots: Path) -> None:
    page = Page(browser, priced_site.url, screenshots)
    log_in(page, priced_site, "region")
    _request_change(page, "92", "8.89", "国际油价大涨")
    page.one(".price-preview .needs-approval")
    assert "需审批" in page.one(".price-preview .needs-approval").text
    assert page.texts(".preview-lines .over-step") == ["超单次限额"]
    _confirm(page, "92号汽油 8.89 元", "需审批")
    page.text_becomes(".change-result .result-state", "需审批")
    page.shot("prices-needs-approval")

    page.click(".topbar .user")
    page.click(".logout")
    log_in(page, priced_site, "admin")
    page.click(".modules .el-menu-item", "系统管理")
    page.click(".side .el-menu-item", "审批中心")
    page.until(lambda: any(c == "调价" for c in page.first_cells()), "the price change in the inbox")
    page.click(".approval-tabs .list-page .el-table__body tr.el-table__row .show")
    page.text_becomes(".price-approval .approval-line", "7.89 → 8.89")
    assert "国际油价大涨" in page.one(".price-approval").text
    page.shot("prices-approval")

    page.click(".el-drawer__close-btn")
    page.click(".approval-tabs .list-page .el-table__body tr.el-table__row .approve")   # a second person
    page.click(".decision-form .confirm")
    page.until(lambda: not page.first_cells(), "the inbox empty")
    _open(page, "调价记录", "/prices/changes")
    page.until(lambda: "已下发" in _row_text(page, "PC-"), "the approved change sent")
    assert "admin" in _row_text(page, "PC-")                              # 审批人


def test_a_scheduled_change_is_cancelled_by_its_requester(browser: webdriver.Chrome, priced_site: RealSite,
                                                           screenshots: Path) -> None:
    page = Page(browser, priced_site.url, screenshots)
    log_in(page, priced_site, "region")
    _open(page, "调价申请", "/prices/change")
    page.click(".price-change [data-field=stations]")
    page.click(".el-select-dropdown__item", f"畅加测试站 ({STATION})")
    page.browser.switch_to.active_element.send_keys(Keys.ESCAPE)
    page.one(".grade-lines input[name=price-95]").send_keys("8.26")
    page.click(".price-change .when .el-radio", "定时生效")
    when = (datetime.now() + timedelta(days=1)).replace(hour=6, minute=0, second=0)   # noqa: DTZ005 (local, as typed)
    picker = page.one(".price-change input[name=effective_at]")
    picker.send_keys(when.strftime("%Y-%m-%d %H:%M:%S"), Keys.ENTER)
    page.one(".price-change input[name=reason]").send_keys("明早降价", Keys.ENTER)   # Enter previews
    page.one(".price-preview .within-limits")
    _confirm(page, "95号汽油 8.26 元", when.strftime("%H:%M:%S"), keyboard=True)
    page.text_becomes(".change-result .result-state", "待生效")
    page.click(".change-result .open-change")
    page.text_becomes(".opened-change .change-state", "待生效")
    page.click(".opened-change .cancel-change")
    page.click(".cancel-confirm-box .el-message-box__btns button", "取消调价")
    page.text_becomes(".opened-change .change-state", "已取消")
    page.until(lambda: "已取消" in _row_text(page, "PC-"), "the list reloaded")
    page.shot("prices-cancelled")


def test_one_nozzle_gets_its_own_price(browser: webdriver.Chrome, priced_site: RealSite, screenshots: Path) -> None:
    page = Page(browser, priced_site.url, screenshots)
    log_in(page, priced_site, "region")
    _open(page, "调价申请", "/prices/change")
    page.click(".price-change [data-field=stations]")
    page.click(".el-select-dropdown__item", f"畅加测试站 ({STATION})")
    page.browser.switch_to.active_element.send_keys(Keys.ESCAPE)
    page.click(".price-change .mode .el-radio", "单枪调价")                 # 单枪调价: every nozzle of the station
    page.until(lambda: len(page.all(".nozzle-lines .new-price input")) == 4, "demo-01's four nozzles")
    page.one(".nozzle-lines input[name='nozzle-demo-01/disp-01/1/1']").send_keys("7.95")
    page.one(".price-change input[name=reason]").send_keys("1 号枪单独调价", Keys.ENTER)
    page.one(".price-preview .within-limits")
    page.text_becomes(".price-preview .affected", "影响油枪 1 把")
    assert page.texts(".preview-lines .new") == ["7.95"]
    assert "disp-01 · 1-1" in page.one(".preview-lines .el-table__body").text
    _confirm(page, "disp-01 · 1-1 7.95 元")
    page.text_becomes(".change-result .result-state", "已下发")


def test_the_board_signs_in_on_its_own_and_shows_the_prices(browser: webdriver.Chrome, priced_site: RealSite,
                                                            screenshots: Path) -> None:
    page = Page(browser, priced_site.url, screenshots)
    page.open(f"/admin/board/{STATION}")
    page.one(".board-login input[name=username]").send_keys("board")          # 价格公示屏: price:read only
    page.one(".board-login input[name=password]").send_keys(priced_site.logins["board"].password, "\n")
    page.texts_become(".board-price", ["7.89", "8.36"])
    assert page.texts(".board-grade-name") == ["92号汽油", "95号汽油"]
    assert page.texts(".board-unit") == ["元/升", "元/升"]
    assert page.one(".board-since").text.startswith("自 ") and not page.all(".board-applying")
    assert not page.all(".topbar")                                       # full screen: no back-office frame
    page.text_becomes(".board-station", "畅加测试站")
    page.shot("prices-board")

    change = httpx.post(f"{priced_site.url}/api/v1/price-changes", headers={
        "Authorization": f"Bearer {_token(priced_site, 'region')}", "Idempotency-Key": "board-test-change"},
        json={"stations": [STATION], "grades": {"92": 799}, "reason": "调价", "confirmed": True})
    assert change.json()["state"] == "sent", change.text
    page.text_becomes(".board-applying", "调价中")                         # re-read by itself (every 10 s)
    assert page.texts(".board-price") == ["7.89", "8.36"]               # the pumps' prices until applied
    page.shot("prices-board-applying")


def test_only_a_holder_of_price_policy_sees_and_uses_the_policy_page(browser: webdriver.Chrome,
                                                                     priced_site: RealSite,
                                                                     screenshots: Path) -> None:
    page = Page(browser, priced_site.url, screenshots)
    log_in(page, priced_site, "manager")                                 # price:read, not price:rule
    page.click(".modules .el-menu-item", "价格管理")
    page.until(lambda: page.texts(".side .el-menu-item") == ["油价", "调价日历", "调价记录", "价格公示屏"],
               "the manager's price entries")
    page.open("/admin/prices/policy")
    page.text_becomes(".page .el-result__title", "无权访问此页面")

    page.click(".topbar .user")
    page.click(".logout")
    log_in(page, priced_site, "admin")                                   # the limits bind the whole company
    _open(page, "调价限额与特殊价格", "/prices/policy")
    step = page.one(".limits-form input[name=step_fen]")
    page.until(lambda: step.get_attribute("value") == "0.50", "the default step limit")
    step.send_keys(Keys.CONTROL, "a")                                    # (clear() bypasses v-model)
    step.send_keys("0.80", Keys.ENTER)                                   # Enter saves
    page.text_becomes(".el-message", "限额已保存")
    headers = {"Authorization": f"Bearer {_token(priced_site, 'admin')}"}
    assert httpx.get(f"{priced_site.url}/api/v1/price-policy", headers=headers).json()["step_fen"] == 80

    page.click(".price-rules .create-rule button")
    page.click(".el-dropdown-menu__item", "会员等级价")
    dialog = page.one(".rule-dialog")
    page.click(".rule-dialog [data-field=grade]")
    page.click(".el-select-dropdown__item", "92号汽油")
    dialog.find_element(By.CSS_SELECTOR, "input[name=level]").send_keys("gold")
    dialog.find_element(By.CSS_SELECTOR, "input[name=amount]").send_keys("7.59")
    page.click(".rule-dialog button.save")
    page.texts_become(".rule-list .rule-kind", ["会员等级价"])
    assert page.texts(".rule-list .rule-params") == ["会员等级 gold：固定价 (元) 7.59"]
    page.click(".rule-list .end-rule")
    page.click(".el-message-box__btns button", "结束")
    page.until(lambda: not page.all(".rule-list .end-rule"), "the rule ended")

    page.click(".price-rules .create-rule button")                       # 分时价: a period of the day
    page.click(".el-dropdown-menu__item", "分时价")
    dialog = page.one(".rule-dialog")
    dialog.find_element(By.CSS_SELECTOR, "input[name=period-from-0]").send_keys("8:00")
    dialog.find_element(By.CSS_SELECTOR, "input[name=period-to-0]").send_keys("22:00")
    dialog.find_element(By.CSS_SELECTOR, "input[name=period-price-0]").send_keys("7.50", Keys.ENTER)
    page.until(lambda: "时段请填写 时:分" in dialog.text, "the page says how to write a period")
    period_from = dialog.find_element(By.CSS_SELECTOR, "input[name=period-from-0]")
    period_from.send_keys(Keys.CONTROL, "a")
    period_from.send_keys("08:00", Keys.ENTER)
    page.until(lambda: "08:00–22:00 7.50" in page.texts(".rule-list .rule-params"), "the time-of-use rule listed")
    assert page.texts(".rule-list .rule-kind") == ["分时价", "会员等级价"]       # newest first
    page.shot("prices-policy")


def _rule_dialog(page: Page, kind: str) -> WebElement:
    """新增规则 → ``kind``: its dialog, for demo-01 and 92#."""
    page.click(".price-rules .create-rule button")
    page.click(".el-dropdown-menu__item", kind)
    dialog = page.one(".rule-dialog")
    page.click(".rule-dialog [data-field=stations]")
    page.click(".el-select-dropdown__item", "畅加测试站")
    page.browser.switch_to.active_element.send_keys(Keys.ESCAPE)        # closes the dropdown, not the dialog
    page.click(".rule-dialog [data-field=grade]")
    page.click(".el-select-dropdown__item", "92号汽油")
    return dialog


def _rules(site: RealSite) -> list[dict[str, object]]:
    answer = httpx.get(f"{site.url}/api/v1/price-rules", headers={"Authorization": f"Bearer {_token(site, 'region')}"})
    assert answer.status_code == 200, answer.text
    return list(answer.json())


def test_a_regional_manager_adds_a_fleet_agreement_and_a_tiered_price(browser: webdriver.Chrome,
                                                                      priced_site: RealSite,
                                                                      screenshots: Path) -> None:
    page = Page(browser, priced_site.url, screenshots)
    log_in(page, priced_site, "region")                                  # price:rule for the east region
    _open(page, "调价限额与特殊价格", "/prices/policy")
    assert "调价限额适用于全公司" in page.one(".limits-read-only").text
    step = page.one(".limits-form input[name=step_fen]")
    page.until(lambda: step.get_attribute("value") == "0.50", "the company's step limit, read-only")
    assert step.get_attribute("disabled") is not None and not page.all(".save-limits")

    dialog = _rule_dialog(page, "车队合同价")
    dialog.find_element(By.CSS_SELECTOR, "input[name=fleet]").send_keys("F001")
    page.click(".rule-dialog .how .el-radio", "每单位直降 (元)")
    dialog.find_element(By.CSS_SELECTOR, "input[name=amount]").send_keys("0.30", Keys.ENTER)
    page.until(lambda: "合同价须填写有效期" in dialog.text, "the agreement asks for its validity")
    start, end = dialog.find_elements(By.CSS_SELECTOR, ".el-range-input")
    start.send_keys("2026-12-01 00:00:00", Keys.TAB)
    end.send_keys("2027-12-01 00:00:00", Keys.TAB)
    page.click(".rule-dialog button.save")
    page.texts_become(".rule-list .rule-kind", ["车队合同价"])
    assert page.texts(".rule-list .rule-params") == ["车队编码 F001：每单位直降 (元) 0.30"]
    fleet = _rules(priced_site)[0]
    assert (fleet["stations"], fleet["grade"], fleet["params"]) == (["demo-01"], "92", {"fleet": "F001", "off_fen": 30})
    typed_end = browser.execute_script("return new Date(2027, 11, 1).toISOString()")    # the browser's local time
    assert datetime.fromisoformat(str(fleet["valid_to"])) == datetime.fromisoformat(typed_end)

    dialog = _rule_dialog(page, "阶梯价")
    page.click(".rule-dialog .el-radio", "周期累计")
    dialog.find_element(By.CSS_SELECTOR, "input[name=tier-from-0]").send_keys("500")
    dialog.find_element(By.CSS_SELECTOR, "input[name=tier-off-0]").send_keys("0.10")
    page.click(".rule-dialog .add-tier")
    dialog.find_element(By.CSS_SELECTOR, "input[name=tier-from-1]").send_keys("1000")
    dialog.find_element(By.CSS_SELECTOR, "input[name=tier-off-1]").send_keys("0.2x", Keys.ENTER)
    page.until(lambda: "每单位直降 (元)无效" in dialog.text, "the page says the amount is wrong")
    off = dialog.find_element(By.CSS_SELECTOR, "input[name=tier-off-1]")
    off.send_keys(Keys.CONTROL, "a")
    off.send_keys("0.20", Keys.ENTER)
    page.texts_become(".rule-list .rule-kind", ["阶梯价", "车队合同价"])     # newest first
    assert page.texts(".rule-list .rule-params")[0] == "按月累计：≥500 −0.10；≥1000 −0.20"
    tier = _rules(priced_site)[0]
    assert tier["params"] == {"basis": "period", "period": "month",
                              "tiers": [{"from": "500", "off_fen": 10}, {"from": "1000", "off_fen": 20}]}
    page.shot("prices-rules-region")
