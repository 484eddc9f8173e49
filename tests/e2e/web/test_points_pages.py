"""积分规则, 积分查询 and 积分商城 in a real Chromium against head office (create_app on a test database holding the
demo company): the marketing user adds the earning rule (the server's field error first), a paid member order of
demo-01 reaches head office through its consumer and earns by that rule, 积分查询 (keyboard only) shows the
balance, the movement and the lot, and the mall's one coupon is redeemed: stock 0, 兑换 disabled, the
redemption listed, the balance down. The cashier, without points:write, sees the rules but cannot add one."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from selenium import webdriver
from selenium.webdriver.common.keys import Keys

from business_services.bootstrap import build_bus
from business_services.consumer import EventConsumer
from forecourt.roles import Role, policy
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.events.orders import OrderChanged, OrderCreated
from tests.e2e.web.browsing import Page
from tests.e2e.web.conftest import RealSite
from tests.e2e.web.test_back_office import log_in

pytestmark = pytest.mark.e2e

STATION, MEMBER = "demo-01", "M00000001"
ROWS = ".list-page .el-table__body tr.el-table__row"


async def _sell(database_url: str, broker: BrokerAddress) -> None:
    """A paid 290.00 元 order of the member at demo-01, as the station server reports it."""
    consumer = EventConsumer(database_url, broker, bus=build_bus(policy(Role.HEAD_OFFICE).contexts))
    now = datetime.now(UTC)
    order_no = f"{STATION}-20261204-O00001"
    events = [OrderCreated(order_no=order_no, station=STATION, kind="fuelling", status="payable", version=1,
                           grade=92, volume_l=Decimal("40.00"), amount_fen=29_000, created_at=now),
              OrderChanged(order_no=order_no, station=STATION, version=2, action="payment", status="paid",
                           paid_fen=29_000, at=now, member_no=MEMBER)]
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        for payload in events:
            event = payload.envelope(source=f"station:{STATION}", event_id=payload.event_id())
            await consumer.handle(conn, f"forecourt/v1/g/{STATION}/events/{event.type}", event.to_bytes())


def _audited(database_url: str) -> list[str]:
    with psycopg.connect(database_url) as conn:
        return [r[0] for r in conn.execute("SELECT action FROM business.audit_log WHERE action LIKE 'points.%' "
                                           "ORDER BY seq")]


def test_marketing_sets_a_rule_a_sale_earns_and_a_coupon_is_redeemed(browser: webdriver.Chrome, real_site: RealSite,
                                                                      broker: BrokerAddress,
                                                                      screenshots: Path) -> None:
    page = Page(browser, real_site.url, screenshots)
    log_in(page, real_site, "marketing")
    page.click(".modules .el-menu-item", "会员管理")
    page.click(".side .el-menu-item", "积分规则")
    page.until(lambda: browser.current_url.endswith("/admin/members/points-rules"), "on the rules page")
    page.until(lambda: page.one(".points-settings input[name=points_per_yuan]").get_attribute("value") == "100",
               "the default settings shown")

    page.click(".list-page .toolbar .create")
    page.one(".list-form input[name=name]").send_keys("每元 1 分")
    page.click(".list-form [data-field=basis]")
    page.click(".el-select-dropdown__item", "按金额（每元）")
    page.click(".el-dialog__title")                                # closes the open select
    page.one(".list-form input[name=rate]").send_keys("abc")
    page.click(".list-form .save")
    page.until(lambda: page.all(".list-form .el-form-item.is-error input[name=rate]"), "the rate's field error")
    box = page.one(".list-form input[name=rate]")
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys("1", Keys.ENTER)
    page.until(lambda: not page.all(".list-form"), "the dialog closed after saving")
    page.until(lambda: "基础积分" in page.one(ROWS).text and "每元 1 分" in page.one(ROWS).text, "the rule listed")
    page.shot("points-rules")

    asyncio.run(_sell(real_site.database_url, broker))
    page.click(".side .el-menu-item", "积分查询")
    page.until(lambda: browser.current_url.endswith("/admin/members/points"), "on the points page")
    page.one(".points-account input[name=member_no]").send_keys(MEMBER.lower(), Keys.ENTER)
    page.text_becomes(".points-history .balance", "290")
    page.until(lambda: "消费积分" in page.one(".movements .el-table__body tr").text
               and "+290" in page.one(".movements .el-table__body tr").text, "the award's movement")
    page.shot("points-account")

    page.click(".side .el-menu-item", "积分商城")
    page.until(lambda: browser.current_url.endswith("/admin/members/mall"), "on the mall")
    page.click(".list-page .toolbar .create")
    page.one(".list-form input[name=sku]").send_keys("wash-1")
    page.one(".list-form input[name=name]").send_keys("洗车券")
    page.click(".list-form [data-field=kind]")
    page.click(".el-select-dropdown__item", "优惠券")
    page.click(".el-dialog__title")
    page.one(".list-form input[name=points]").send_keys("200")
    stock = page.one(".list-form input[name=stock]")
    stock.send_keys(Keys.CONTROL, "a")
    stock.send_keys("1", Keys.ENTER)
    page.until(lambda: not page.all(".list-form"), "the item saved")
    page.until(lambda: "洗车券" in page.one(ROWS).text, "the item listed")

    page.click(f"{ROWS} .redeem", "兑换")
    page.one(".redeem-form input[name=member_no]").send_keys(MEMBER, Keys.ENTER)
    page.until(lambda: not page.all(".redeem-form"), "the redemption made")
    page.until(lambda: "0（缺货）" in page.one(ROWS).text, "the stock shows 0")
    assert not page.one(f"{ROWS} .redeem").is_enabled()
    page.shot("points-mall")
    page.click(".mall .el-tabs__item", "兑换记录")
    page.until(lambda: any(MEMBER in r.text and "洗车券" in r.text for r in page.all(ROWS)), "the redemption listed")

    with psycopg.connect(real_site.database_url) as conn:
        balance = conn.execute("SELECT balance FROM business.ledger_accounts WHERE code = %s",
                               (f"points:{MEMBER}",)).fetchone()
        stock_left = conn.execute("SELECT stock FROM business.points_mall_items WHERE sku = 'wash-1'").fetchone()
    assert balance == (90,) and stock_left == (0,)
    assert _audited(real_site.database_url) == ["points.rule.add", "points.mall.item.add", "points.redeem"]


def test_the_cashier_reads_the_rules_but_cannot_add_one(browser: webdriver.Chrome, real_site: RealSite,
                                                        screenshots: Path) -> None:
    page = Page(browser, real_site.url, screenshots)
    log_in(page, real_site, "cashier")
    page.open("/admin/members/points-rules")
    page.until(lambda: page.all(".list-page .pager"), "the rules list shown")
    assert not page.all(".list-page .toolbar .create") and not page.all(".save-settings")
