"""The customer H5 (/h5/) in Chromium at a phone's size against head office's real API, its SMS through the
messaging simulator: a drive-through notice's link opens its one order, confirmed in one tap; a member logs in
with their phone and the SMS code (Enter submits), sees the order waiting in 待确认 and answers 不是我的车, then
turns 每次确认 on; 开通免密支付 shows head office's refusal while WeChat Pay's 委托代扣 is not set up (signing
through the simulator: tests/integration/drive_through/test_agreement.py). The link session reaches no other
page."""

from __future__ import annotations

import asyncio
import json
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import psycopg
import pytest
from selenium import webdriver
from selenium.webdriver.common.keys import Keys

from business_services.audit.model import Actor
from business_services.drive_through import head_office, push
from business_services.notifications.channels import MessagingConfig
from business_services.unit_of_work import UnitOfWork
from simulators.messaging.server import MessagingSim
from telemetry.contracts.events.drive_through import DriveThroughAwaiting
from tests.e2e.web.browsing import Page
from tests.e2e.web.conftest import RealSite, _served
from tests.support.auth import bearer

pytestmark = pytest.mark.e2e
PHONE, PLATE, CARD = "13912345678", "京A12345", "8861000000000017"
PHONE_SIZE = {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True}


def register(site: RealSite) -> str:
    staff = bearer(site.app, "member:write", "member:read") | {"Idempotency-Key": f"h5-test-{uuid.uuid4()}"}
    answer = httpx.post(f"{site.url}/api/v1/members", json={"phone": PHONE, "source": "back_office"}, headers=staff)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["member_no"])


async def awaiting(database_url: str, member_no: str, point: int, amount_fen: int) -> str:
    """An order of ``member_no`` awaiting their answer at head office (what drive_through.awaiting brings)."""
    now = datetime.now(UTC)
    waiting = DriveThroughAwaiting(
        station="demo-01", recognition_id=str(uuid.uuid4()), order_no=f"demo-01-20261205-O0000{point}",
        fuelling_point=point, member_no=member_no, plate=PLATE, method="stored_value", card_no=CARD, grade=92,
        volume_l=Decimal("38.02"), amount_fen=amount_fen, fuelled_at=now, expires_at=now + timedelta(minutes=10))
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn, \
            UnitOfWork(conn, Actor.system("test")) as uow:
        await head_office.awaiting(waiting.envelope(source="test", event_id=waiting.event_id()), uow)
    return waiting.recognition_id


async def notice(database_url: str, config: MessagingConfig, recognition_id: str) -> str:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        return await push.send_push(conn, push.Channels(config), f"awaiting/{recognition_id}")


def sms(url: str) -> list[dict[str, object]]:
    with urllib.request.urlopen(f"{url}/_sim/sms", timeout=5) as answer:   # noqa: S310 (the local simulator)
        return list(json.load(answer)["received"])


def state_of(database_url: str, recognition_id: str) -> str:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT state FROM business.drive_through_confirmations WHERE recognition_id = %s",
                           (recognition_id,)).fetchone()
    return str(row[0]) if row else ""


def confirms(database_url: str, member_no: str) -> bool:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT confirm FROM business.drive_through_settings WHERE member_no = %s",
                           (member_no,)).fetchone()
    return bool(row and row[0])


def test_a_member_confirms_in_one_tap_and_logs_in_by_sms(real_site: RealSite, browser: webdriver.Chrome,
                                                       screenshots: Path) -> None:
    messaging = MessagingSim()
    with _served(messaging.app, "off") as messaging_url:
        keys = messaging.keys.merchant_config(messaging_url)
        config = MessagingConfig(**{k: v for k, v in keys.items() if k in MessagingConfig.__dataclass_fields__},
                                 h5_url=f"{real_site.url}/h5/")
        real_site.app.state.messaging = config
        member_no = register(real_site)
        tapped = asyncio.run(awaiting(real_site.database_url, member_no, 2, 30000))
        declined = asyncio.run(awaiting(real_site.database_url, member_no, 3, 12345))
        assert asyncio.run(notice(real_site.database_url, config, tapped)) == "sent"
        [sent] = [m for m in sms(messaging_url) if m["TemplateCode"] == config.sms_confirm_template_code]
        code = sent["TemplateParam"]["code"]  # type: ignore[index]

        browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE_SIZE)
        try:
            page = Page(browser, real_site.url, screenshots)
            page.open(f"/h5/c/{code}")                         # the notice's link
            page.text_becomes("[data-test=amount]", "¥300.00")
            shown = " ".join(page.texts(".van-cell"))
            assert "92#汽油" in shown and "38.02 升" in shown and "2 号" in shown and "京A***45" in shown
            assert PLATE not in shown and CARD not in shown and f"尾号 {CARD[-4:]}" in shown
            assert browser.execute_script("return document.documentElement.scrollWidth") <= 390   # no sideways scroll
            page.shot("h5-confirm")
            page.click("[data-test=confirm]")                  # one tap
            page.until(lambda: "已确认" in " ".join(page.texts("[data-test=result]")), "the answer shown")
            assert state_of(real_site.database_url, tapped) == "confirmed"
            page.open("/h5/orders")                            # the link session reaches no other page
            page.until(lambda: browser.current_url.split("?")[0].endswith("/h5/login"), "sent to the login")

            page.click("[data-test=phone] input")
            browser.switch_to.active_element.send_keys(PHONE)
            page.click("[data-test=send]")
            page.until(lambda: len(sms(messaging_url)) == 2, "the login code sent")
            login_code = sms(messaging_url)[-1]["TemplateParam"]["code"]  # type: ignore[index]
            page.click("[data-test=code] input")
            browser.switch_to.active_element.send_keys(login_code, Keys.ENTER)    # Enter logs in
            page.until(lambda: page.all(".van-empty"), "back on 加油记录, where the login was asked for (none yet)")
            page.click(".van-tabbar-item", "待确认")
            page.until(lambda: len(page.all("[data-test=pending]")) == 1, "待确认 lists the waiting order")
            assert "¥123.45" in page.texts("[data-test=pending]")[0]
            page.shot("h5-pending")
            page.click("[data-test=pending]")
            page.text_becomes("[data-test=amount]", "¥123.45")
            page.click("[data-test=decline]")
            page.until(lambda: "不是您的车" in " ".join(page.texts("[data-test=result]")), "the decline shown")
            assert state_of(real_site.database_url, declined) == "declined"
            page.click(".van-tabbar-item", "无感支付")
            page.until(lambda: page.all("[data-test=save]"), "the settings page")
            page.click("[data-test=confirm-each]")              # 每次确认 on
            page.click("[data-test=save]")
            page.until(lambda: confirms(real_site.database_url, member_no), "每次确认 saved")
            with psycopg.connect(real_site.database_url) as conn:
                audited = conn.execute("SELECT action, actor FROM business.audit_log WHERE action = "
                                       "'member.drive_through'").fetchall()
            assert audited == [("member.drive_through", f"customer:{member_no}")]    # the member's own change
            assert page.texts("[data-test=agreement-state]")[0].endswith("未签约")
            page.click("[data-test=agreement]")                 # 免密支付: WeChat Pay's 委托代扣 not set up here
            page.until(lambda: "免密支付尚未开通" in " ".join(page.texts(".van-toast")), "the refusal shown")
            page.shot("h5-settings")
        finally:
            browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
