"""The POS in Chromium with both servers real: 刷脸支付 (F9) through Chromium's fake camera showing a labelled face
photo — the member who opted in pays the order from their stored-value card at head office once — and the
drive-through panel: the member attached to fuelling position 2 on its tile, 今日无感支付 (F10) and the undo of a
wrong match by keyboard alone, the refund waiting for approval above the refund limit.

The camera is Chromium's own fake device playing a Y4M file made here from the photo with OpenCV
(``--use-file-for-fake-video-capture``); only this test's Chromium has those switches."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import psycopg
import pytest
from selenium import webdriver
from selenium.webdriver.common.keys import Keys

from telemetry.contracts.broker import BrokerAddress
from tests.e2e.web.browsing import Page
from tests.e2e.web.conftest import PosSite, _launch_chromium, _served
from tests.e2e.web.test_pos import deliver, lock_holder, open_pos, press
from tests.integration.cards import support as cards
from tests.integration.drive_through.test_drive_through import pay, providers, seen
from tests.integration.face_payments.support import BALANCE_FEN, SAME_PERSON, STRANGER, office_app, photo, prepare
from tests.integration.ic_cards import ic_support
from tests.integration.station_members.support import CARD, PLATE, card, hold, member

pytestmark = pytest.mark.e2e
DRIVER = "M00000099"         # the drive-through member (the face-paying one is head office's first member)


def y4m(image: bytes, path: Path, width: int = 640, height: int = 480, frames: int = 10) -> Path:
    """The photo letterboxed into a ``width``×``height`` Y4M video (I420) for Chromium's fake camera."""
    picture = cv2.imdecode(np.frombuffer(image, np.uint8), cv2.IMREAD_COLOR)
    scale = min(width / picture.shape[1], height / picture.shape[0])
    fitted = cv2.resize(picture, (round(picture.shape[1] * scale) // 2 * 2, round(picture.shape[0] * scale) // 2 * 2))
    canvas = np.full((height, width, 3), 96, np.uint8)
    top, left = (height - fitted.shape[0]) // 2, (width - fitted.shape[1]) // 2
    canvas[top:top + fitted.shape[0], left:left + fitted.shape[1]] = fitted
    planes = cv2.cvtColor(canvas, cv2.COLOR_BGR2YUV_I420).tobytes()
    with path.open("wb") as video:
        video.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            video.write(b"FRAME\n" + planes)
    return path


@pytest.fixture
def camera(tmp_path: Path) -> Iterator[Callable[[bytes], webdriver.Chrome]]:
    """A Chromium whose camera shows the given photo; closed after the test."""
    launched: list[webdriver.Chrome] = []

    def launch(image: bytes) -> webdriver.Chrome:
        video = y4m(image, tmp_path / f"camera-{len(launched)}.y4m")
        launched.append(_launch_chromium("--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                                         f"--use-file-for-fake-video-capture={video}"))
        return launched[-1]
    try:
        yield launch
    finally:
        for chrome in launched:
            chrome.quit()


def order_row(site: PosSite, order_no: str) -> tuple[str, int, str | None]:
    with psycopg.connect(site.database_url) as conn:
        found = conn.execute("SELECT status, paid_fen, member_no FROM business.orders WHERE order_no = %s",
                             (order_no,)).fetchone()
    assert found is not None
    return found[0], found[1], found[2]


def test_a_member_pays_by_face_and_a_wrong_drive_through_match_is_undone_by_keyboard(
        pos_site: PosSite, database_url: str, broker: BrokerAddress,
        camera: Callable[[bytes], webdriver.Chrome], screenshots: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORECOURT_REFUND_APPROVAL_ABOVE_FEN", "10000")     # 100 yuan: the undo's refund waits
    office = office_app(database_url)
    with _served(office, "on") as office_url:
        prepared = asyncio.run(prepare(office_url, office, database_url, pos_site.database_url))
        pos_site.app.state.payment_providers = prepared.providers(pos_site.database_url)
        page = Page(camera(photo(SAME_PERSON)), pos_site.url, screenshots)   # another photo than the enrolled
        open_pos(page, pos_site, "pos-1")
        page.click(".open-shift")
        order_no = deliver(pos_site, broker, 7901, volume_l=20.0, amount_fen=15000, totalizer_before_l=1000.0,
                           totalizer_after_l=1020.0)
        row = f'[data-order="{order_no}"]'
        page.one(row)

        press(page, Keys.F9)                                   # 刷脸支付 for the order under the cursor
        page.one(".face-dialog video.preview")
        page.shot("pos-face-dialog")
        page.until(lambda: not page.all(row), "the order was paid by face")
        page.until(lambda: page.all(f'[data-member-lines="{order_no}"]'), "the paid alert names the member")
        assert prepared.member_no in page.one(f'[data-member-lines="{order_no}"]').text
        assert not page.all(".face-dialog")                  # closed; the camera stopped with it
        page.shot("pos-face-paid")
        assert order_row(pos_site, order_no) == ("paid", 15000, prepared.member_no)
        assert asyncio.run(cards.balance(database_url, prepared.card_no)) == BALANCE_FEN - 15000

        # 无感支付: a car of another member read at position 2, fuelled and paid from their card (offline here)
        asyncio.run(_drive_through(pos_site.database_url, broker))
        tile = '[data-nozzle] .drive-through[data-dt-state="paid"]'
        page.until(lambda: page.all(tile), "the tile of position 2 shows the attached member, paid")
        badge = page.one(tile).text
        assert "已支付" in badge and PLATE not in badge and "京A" in badge and f"李* {DRIVER}" in badge
        page.shot("pos-drive-through-tile")

        press(page, Keys.F10)                                  # the day's list, the newest first
        page.one(".drive-through-dialog .row.cursor")
        press(page, Keys.ENTER)
        page.until(lambda: page.browser.switch_to.active_element.get_attribute("name") == "undo-reason",
                   "Enter asks for the reason")
        press(page, "车牌识别错误", Keys.ENTER)
        page.until(lambda: any("等待站长审批" in t for t in page.texts(".drive-through-dialog [role=status]")),
                   "the undo says the refund waits for approval above the limit")
        page.text_becomes(".drive-through-dialog .row.cursor .state", "已撤销")
        page.shot("pos-drive-through-undone")
        press(page, Keys.ESCAPE)
        page.until(lambda: not page.all(".drive-through-dialog"), "Esc closes the list")
    with psycopg.connect(pos_site.database_url) as conn:
        refunds = conn.execute("SELECT amount_fen, state FROM business.payment_refunds").fetchall()
        undone = conn.execute("SELECT state FROM business.drive_through_attachments").fetchall()
    assert refunds == [(15000, "awaiting_approval")] and undone == [("undone",)]


def test_a_stranger_is_refused_after_a_few_frames_and_esc_gives_the_order_back(
        pos_site: PosSite, database_url: str, broker: BrokerAddress,
        camera: Callable[[bytes], webdriver.Chrome], screenshots: Path) -> None:
    office = office_app(database_url)
    with _served(office, "on") as office_url:
        prepared = asyncio.run(prepare(office_url, office, database_url, pos_site.database_url))
        pos_site.app.state.payment_providers = prepared.providers(pos_site.database_url)
        page = Page(camera(photo(STRANGER)), pos_site.url, screenshots)
        open_pos(page, pos_site, "pos-1")
        page.click(".open-shift")
        order_no = deliver(pos_site, broker, 7911, volume_l=20.0, amount_fen=15000, totalizer_before_l=1000.0,
                           totalizer_after_l=1020.0)
        page.one(f'[data-order="{order_no}"]')
        press(page, Keys.F9)
        page.until(lambda: any("未识别到会员，请使用其他支付方式" in t and "多次未能识别" in t
                               for t in page.texts(".face-dialog [role=alert]")),
                   "five frames of a stranger end in the clear refusal", timeout=60)
        assert lock_holder(pos_site, order_no) == "pos-1"      # held while the dialog is open
        page.shot("pos-face-refused")
        press(page, Keys.ESCAPE)
        page.until(lambda: not page.all(".face-dialog"), "Esc closes the dialog")
        page.until(lambda: lock_holder(pos_site, order_no) is None, "Esc gave the order back")
    assert order_row(pos_site, order_no) == ("payable", 0, None)
    assert asyncio.run(cards.balance(database_url, prepared.card_no)) == BALANCE_FEN
    with psycopg.connect(pos_site.database_url) as conn:
        tries = conn.execute("SELECT count(*) FROM business.audit_log WHERE action = 'face.pay' "
                             "AND after->>'outcome' = 'no_match'").fetchone()
    assert tries == (5,)


async def _drive_through(url: str, broker: BrokerAddress) -> None:
    driver = member(member_no=DRIVER, name_masked="李*", drive_through="stored_value", drive_through_card_no=CARD)
    await hold(url, driver, card(member_no=DRIVER), first_seq=10)
    now = datetime.now(UTC)
    await ic_support.deliver(url, broker, seen(2, PLATE, now - timedelta(minutes=1)), "demo-01")
    await ic_support.deliver(url, broker, ic_support.fuelling("demo-01", 2, 7902, 15000, at=now), "demo-01")
    assert await pay(url, providers(url)) == 1

