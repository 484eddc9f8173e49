"""Drive-through payment on a station server's own database, events through its business consumer: a member's
plate recognised at fuelling position 2 attaches them; the fuelling's order is sold to them and paid from their
stored-value card without the cashier, once however often the events come or a crash interrupts; an unbound plate,
an unsure reading, an idle position and a car seen after the fuelling leave the order to the
cashier; the cashier's undo refunds."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from business_services.audit.model import Actor
from business_services.bootstrap import build_bus
from business_services.drive_through import model, service
from business_services.online_payments.station_client import HeadOfficeLink
from business_services.payments.providers import PaymentProvider
from business_services.payments.registry import Providers, member_providers
from forecourt.local import free_port
from forecourt.roles import Role, policy
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.events.vision import VehicleRecognized
from tests.integration.ic_cards.ic_support import deliver, fuelling, rows
from tests.integration.sales.payments_support import STATION, open_shift
from tests.integration.station_members.support import CARD, MEMBER, PLATE, card, hold, member

pytestmark = pytest.mark.integration
BUS = build_bus(policy(Role.STATION).contexts)


def seen(point: int, plate: str, at: datetime, confidence: float = 0.97) -> VehicleRecognized:
    return VehicleRecognized(station=STATION, camera=f"lane-{point}", fuelling_point=point, plate=plate,
                             colour="blue", confidence=confidence, frames=5, seen_at=at,
                             snapshot=f"{STATION}/lane-{point}/1.jpg")


def member_tenders(url: str) -> list[PaymentProvider]:
    """Stored value while head office is unreachable: decided from the member list within the card's limits."""
    link = HeadOfficeLink(f"http://127.0.0.1:{free_port()}", "no-key", timeout_s=1, probe_every_s=3600)
    return member_providers(link, url)


def providers(url: str) -> Providers:
    return Providers(member_tenders(url))


async def pay(url: str, found: Providers) -> int:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        return await service.pay_due(conn, BUS, found, STATION)


async def test_a_members_car_is_paid_once_from_stored_value_without_the_cashier(
        station_database_url: str, broker: BrokerAddress) -> None:
    url = station_database_url
    await hold(url, member(drive_through="stored_value", drive_through_card_no=CARD), card())
    await open_shift(url)
    now = datetime.now(UTC)
    arriving = seen(2, PLATE, now - timedelta(minutes=3))
    await deliver(url, broker, arriving, STATION)
    await deliver(url, broker, arriving, STATION)                            # redelivered
    await deliver(url, broker, seen(2, PLATE, now - timedelta(minutes=2)), STATION)   # seen again
    assert await rows(url, "SELECT fuelling_point, member_no, state FROM business.drive_through_attachments") == [
        (2, MEMBER, "attached")]

    fuelled = fuelling(STATION, 2, 7, 15000, at=now)
    await deliver(url, broker, fuelled, STATION)
    await deliver(url, broker, fuelled, STATION)                             # redelivered
    [(order_no, member_no, plate)] = await rows(url, "SELECT order_no, member_no, plate FROM business.orders")
    assert (member_no, plate) == (MEMBER, PLATE)

    found = providers(url)
    assert await pay(url, found) == 1
    assert await pay(url, found) == 0
    assert await rows(url, "SELECT status, paid_fen FROM business.orders") == [("paid", 15000)]
    [(payment_no, method, amount, terminal)] = await rows(
        url, "SELECT payment_no, method, amount_fen, terminal FROM business.payments WHERE state = 'succeeded'")
    assert (method, amount, terminal) == ("stored_value", 15000, service.TERMINAL)
    assert await rows(url, "SELECT card_no, amount_fen FROM business.station_card_payments") == [(CARD, 15000)]
    assert await rows(url, "SELECT state, order_no, payment_no FROM business.drive_through_attachments") == [
        ("paid", order_no, payment_no)]

    # a crash after the payment, before its row was closed: the next round finds the order paid, pays nothing
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute("UPDATE business.drive_through_attachments SET state = 'due', payment_no = NULL")
    assert await pay(url, found) == 0
    assert await rows(url, "SELECT count(*) FROM business.payments") == [(1,)]
    assert await rows(url, "SELECT state, payment_no FROM business.drive_through_attachments") == [
        ("paid", payment_no)]

    # the cashier undoes the match: the payment goes back through the refund path, the undo is audited
    [(recognition_id,)] = await rows(url, "SELECT recognition_id FROM business.drive_through_attachments")
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        undone = await service.undo(conn, BUS, found, Actor(name="cashier", source="pos-1"), STATION, recognition_id,
                                    "车牌识别错误")
        again = await service.undo(conn, BUS, found, Actor(name="cashier", source="pos-1"), STATION, recognition_id,
                                   "车牌识别错误")
    assert undone.state == again.state == "undone"
    assert await rows(url, "SELECT payment_no, amount_fen FROM business.payment_refunds") == [(payment_no, 15000)]
    assert await rows(url, "SELECT action FROM business.audit_log WHERE action LIKE %s", "drive_through%") == [
        ("drive_through.undo",)]


async def test_an_unbound_plate_an_unsure_read_an_idle_position_and_a_later_car_leave_it_to_the_cashier(
        station_database_url: str, broker: BrokerAddress) -> None:
    url = station_database_url
    await hold(url, member(drive_through="stored_value", drive_through_card_no=CARD), card())
    await open_shift(url)
    now = datetime.now(UTC)
    await deliver(url, broker, seen(1, "沪C99999", now - timedelta(minutes=3)), STATION)        # bound to nobody
    await deliver(url, broker, seen(3, PLATE, now - timedelta(minutes=3), confidence=0.5), STATION)   # unsure
    await deliver(url, broker, seen(4, PLATE, now - timedelta(minutes=3)), STATION)
    await deliver(url, broker, fuelling(STATION, 4, 1, 0, at=now), STATION)                    # hung up, no fuel
    await deliver(url, broker, seen(5, PLATE, now + timedelta(minutes=1)), STATION)   # the next car, seen after
    for point in (1, 3, 4, 5):
        await deliver(url, broker, fuelling(STATION, point, 10 + point, 8000, at=now), STATION)
    assert await pay(url, providers(url)) == 0
    assert await rows(url, "SELECT count(*) FROM business.payments") == [(0,)]
    assert await rows(url, "SELECT status, member_no FROM business.orders WHERE amount_fen > 0") == [
        ("payable", None)] * 4
    assert await rows(url, "SELECT fuelling_point, state, reason FROM business.drive_through_attachments "
                           "ORDER BY fuelling_point") == [(4, "expired", model.IDLE), (5, "attached", "")]


async def test_a_failing_round_is_logged_and_the_loop_goes_on(station_database_url: str,
                                                                monkeypatch: pytest.MonkeyPatch,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    """A round that fails unforeseen (a bug, an answer of another shape) never ends the loop: the station's
    business process runs it beside its consumer, and a loop that died would stop drive-through for good."""
    rounds: list[int] = []

    async def expire(conn: psycopg.AsyncConnection, at: datetime) -> int:
        rounds.append(1)
        if len(rounds) == 1:
            raise KeyError("items")
        return 0

    monkeypatch.setattr(service.repository, "expire", expire)
    loop = asyncio.create_task(service.pay_forever(station_database_url, BUS, providers(station_database_url),
                                                   STATION, every_s=0.01))
    try:
        async with asyncio.timeout(30):
            while len(rounds) < 3:
                await asyncio.sleep(0.01)
        assert not loop.done()
    finally:
        loop.cancel()
    assert "a round failed" in caplog.text
