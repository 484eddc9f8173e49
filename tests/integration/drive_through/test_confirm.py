"""每次确认 and the push to the member (issue 20 item 5; docs/h5.md), with every part real: the station server's
database and its business consumer, head office's database, consumer and API on a real port, the messaging
simulator's SMS. A member who chose 每次确认 fuels: the order waits, head office keeps it once however often the
event comes, and pushes one SMS with the H5 link however often the job runs; the link opens that one confirmation;
the member confirms in one tap; the station, asking head office over its link, pays the order once. Declined or
unanswered in the window, it goes to the cashier; head office unreachable, it waits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest

from business_services.audit.model import Actor
from business_services.drive_through import confirmations, model, push
from business_services.drive_through import head_office as answering
from business_services.online_payments.station_client import HeadOfficeLink
from business_services.unit_of_work import UnitOfWork
from forecourt.local import free_port
from forecourt.roles import Role
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.events.drive_through import DriveThroughAwaiting
from telemetry.contracts.events.payments import Allocation, PaymentCaptured
from tests.integration.api.support import running_api
from tests.integration.drive_through.test_drive_through import pay, providers, seen
from tests.integration.ic_cards.ic_support import deliver, fuelling, outbox, rows, station_key
from tests.integration.notifications.support import messaging_sim
from tests.integration.sales.payments_support import STATION, open_shift
from tests.integration.station_members.support import CARD, MEMBER, PLATE, card, hold, member
from tests.support.auth import admin_headers

pytestmark = pytest.mark.integration


async def awaiting_order(url: str, broker: BrokerAddress, point: int = 2, amount_fen: int = 15000) -> str:
    """A member who chose 每次确认 recognised at ``point`` and fuelled there: the recognition id."""
    now = datetime.now(UTC)
    arriving = seen(point, PLATE, now - timedelta(minutes=3))
    await deliver(url, broker, arriving, STATION)
    await deliver(url, broker, fuelling(STATION, point, 7 + point, amount_fen, at=now), STATION)
    return arriving.event_id()


async def up_to_head_office(station_url: str, head_office_url: str, broker: BrokerAddress) -> DriveThroughAwaiting:
    """The station's drive_through.awaiting, as its outbox holds it, through head office's consumer (twice)."""
    [data] = await outbox(station_url, "drive_through.awaiting")
    waiting = DriveThroughAwaiting.model_validate(data)
    for _ in range(2):                                                      # redelivered
        await deliver(head_office_url, broker, waiting, STATION, Role.HEAD_OFFICE)
    return waiting


async def settle(url: str, link: HeadOfficeLink | None, at: datetime | None = None) -> int:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        return await confirmations.settle(conn, link, STATION, at or datetime.now(UTC))


async def send(url: str, channels: push.Channels, key: str) -> str:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        return await push.send_push(conn, channels, key)


async def test_the_member_is_pushed_once_confirms_in_one_tap_and_the_station_pays_once(
        database_url: str, station_database_url: str, broker: BrokerAddress) -> None:
    url = station_database_url
    await hold(url, member(drive_through="stored_value", drive_through_card_no=CARD, drive_through_confirm=True),
               card())
    await open_shift(url)
    recognition_id = await awaiting_order(url, broker)
    assert await rows(url, "SELECT state, confirm FROM business.drive_through_attachments") == [("awaiting", True)]
    found = providers(url)
    assert await pay(url, found) == 0                                       # not paid before the answer

    async with messaging_sim() as messaging, running_api(database_url, broker) as port, \
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=20) as http:
        registered = await http.post("/api/v1/members", json={"phone": "13900000001", "source": "back_office"},
                                     headers=admin_headers() | {"Idempotency-Key": "confirm-test-member"})
        assert registered.json()["member_no"] == MEMBER, registered.text
        waiting = await up_to_head_office(url, database_url, broker)
        assert (waiting.recognition_id, waiting.amount_fen, waiting.order_no[:7]) == (recognition_id, 15000,
                                                                                      STATION)
        assert await rows(database_url, "SELECT state FROM business.drive_through_confirmations") == [
            ("awaiting",)]
        assert await rows(database_url, "SELECT count(*) FROM procrastinate_jobs WHERE task_name = %s",
                          "drive_through.push") == [(1,)]

        channels = push.Channels(messaging.config)
        key = f"awaiting/{recognition_id}"
        assert await send(database_url, channels, key) == "sent"
        assert await send(database_url, channels, key) == ""            # the job run again: nothing more
        [sms] = [m for m in (await messaging.received("sms"))["received"] if m["TemplateCode"] == "SMS_0000004"]
        assert sms["PhoneNumbers"] == "13900000001" and sms["TemplateParam"]["amount"] == "150.00"
        token = sms["TemplateParam"]["code"]

        station = HeadOfficeLink(f"http://127.0.0.1:{port}", await station_key(database_url, STATION))
        assert await settle(url, station) == 0                          # asked: still awaiting

        opened = await http.post("/api/v1/h5/login/link", json={"token": token})
        assert opened.status_code == 200, opened.text
        assert opened.json()["only"] == recognition_id
        tap = {"Authorization": f"Bearer {opened.json()['access_token']}"}
        shown = await http.get(f"/api/v1/h5/confirmations/{recognition_id}", headers=tap)
        assert shown.status_code == 200, shown.text
        assert (shown.json()["amount_fen"], shown.json()["fuelling_point"], shown.json()["grade_name"]) == (
            15000, 2, "92#汽油")
        assert shown.json()["plate_masked"] != PLATE and shown.json()["card_masked"] != CARD
        assert (await http.get("/api/v1/h5/me/orders", headers=tap)).status_code == 403   # that one only

        confirmed = await http.post(f"/api/v1/h5/confirmations/{recognition_id}/confirm", headers=tap)
        again = await http.post(f"/api/v1/h5/confirmations/{recognition_id}/confirm", headers=tap)
        assert confirmed.status_code == again.status_code == 200, confirmed.text
        assert confirmed.json()["state"] == "confirmed"
        changed = await http.post(f"/api/v1/h5/confirmations/{recognition_id}/decline", headers=tap)
        assert changed.status_code == 409
        assert (await http.post("/api/v1/h5/login/link", json={"token": token})).status_code == 401  # answered

        assert await settle(url, station) == 1
        assert await settle(url, station) == 0
        await station.close()
    assert await pay(url, found) == 1
    assert await pay(url, found) == 0
    assert await rows(url, "SELECT status, paid_fen FROM business.orders") == [("paid", 15000)]
    assert await rows(url, "SELECT count(*) FROM business.payments WHERE state = 'succeeded'") == [(1,)]
    assert await rows(url, "SELECT state FROM business.drive_through_attachments") == [("paid",)]
    assert await rows(database_url, "SELECT action FROM business.audit_log WHERE action LIKE 'drive_through%%'") \
        == [("drive_through.confirm",)]


async def test_a_paid_drive_through_order_is_pushed_once_per_payment(database_url: str) -> None:
    app_member = {"phone": "13900000001", "source": "back_office"}
    captured = PaymentCaptured(
        payment_no=f"{STATION}-20261205-P00001", station=STATION, shift_no=f"{STATION}-20261205-S00001",
        terminal="drive-through", cashier="drive-through", method="stored_value", amount_fen=15000,
        allocations=(Allocation(order_no=f"{STATION}-20261205-O00001", amount_fen=15000),),
        captured_at=datetime.now(UTC), member_no=MEMBER, card_no=CARD)
    cash = captured.model_copy(update={"payment_no": f"{STATION}-20261205-P00002", "terminal": "pos-1"})
    async with messaging_sim() as messaging, running_api(database_url) as port:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=20) as http:
            registered = await http.post("/api/v1/members", json=app_member,
                                         headers=admin_headers() | {"Idempotency-Key": "confirm-test-paid"})
            assert registered.status_code == 201, registered.text
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            for event in (captured, captured, cash):                        # redelivered; a cashier's payment
                async with UnitOfWork(conn, Actor.system("test")) as uow:
                    await answering.captured(event.envelope(source="test", event_id=event.event_id()), uow)
        assert await rows(database_url, "SELECT key FROM business.drive_through_pushes") == [
            (f"paid/{captured.payment_no}",)]
        channels = push.Channels(messaging.config)
        assert await send(database_url, channels, f"paid/{captured.payment_no}") == "sent"
        assert await send(database_url, channels, f"paid/{captured.payment_no}") == ""
        [sms] = (await messaging.received("sms"))["received"]
        assert (sms["TemplateCode"], sms["TemplateParam"]["amount"]) == ("SMS_0000003", "150.00")
        assert sms["TemplateParam"]["card"].endswith(f"{CARD[-4:]})")


async def test_declined_or_unanswered_goes_to_the_cashier_and_head_office_down_waits(
        database_url: str, station_database_url: str, broker: BrokerAddress) -> None:
    url = station_database_url
    await hold(url, member(drive_through="stored_value", drive_through_card_no=CARD, drive_through_confirm=True),
               card())
    await open_shift(url)
    declined_id = await awaiting_order(url, broker, point=2)
    unanswered_id = await awaiting_order(url, broker, point=3, amount_fen=9000)
    for data in await outbox(url, "drive_through.awaiting"):
        await deliver(database_url, broker, DriveThroughAwaiting.model_validate(data), STATION, Role.HEAD_OFFICE)
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn, conn.transaction():
        await answering.decide(conn, MEMBER, declined_id, False, datetime.now(UTC))

    later = datetime.now(UTC) + timedelta(minutes=model.CONFIRM_MINUTES + 1)
    down = HeadOfficeLink(f"http://127.0.0.1:{free_port()}", "no-key", timeout_s=1, probe_every_s=3600)
    assert await settle(url, down, later) == 0                              # head office unreachable: both wait
    assert await rows(url, "SELECT state FROM business.drive_through_attachments") == [("awaiting",)] * 2
    await down.close()

    async with running_api(database_url, broker) as port:
        station = HeadOfficeLink(f"http://127.0.0.1:{port}", await station_key(database_url, STATION))
        assert await settle(url, station) == 1                              # the decline: at once
        assert await settle(url, station, later) == 1                       # no answer in the window
        await station.close()
    assert await rows(url, "SELECT recognition_id, state, reason FROM business.drive_through_attachments "
                           "ORDER BY fuelling_point") == [(declined_id, "cashier", model.DECLINED),
                                                          (unanswered_id, "cashier", model.UNANSWERED)]
    assert await pay(url, providers(url)) == 0
    assert await rows(url, "SELECT count(*) FROM business.payments") == [(0,)]
    assert await rows(url, "SELECT status FROM business.orders ORDER BY fuelling_point") == [("payable",)] * 2
