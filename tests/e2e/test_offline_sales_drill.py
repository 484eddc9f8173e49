"""Issue 15's offline drill: head office is unreachable while the station sells 200 fuellings across two shifts
and a handover; when the link returns, head office holds exactly the station's orders, payments and shift
totals — none lost, none doubled — also when the delivery is duplicated and reordered.

The station server runs on its own database with its role's bus: fuellings arrive through its consumer, the
cashier takes cash, bank-card and "other" payments (and leaves a few orders for the next shift), shifts are
handed over. "Link cut" is the station's outbox publisher not reaching the broker: every event waits in
``business.outbox``. When the link returns the publisher drains it (a fake sink records what reached the
broker) and head office's consumer gets each message, plus a fifth of them again, in a shuffled order.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime

import psycopg
import pytest

from business_services.audit.model import Actor
from business_services.bootstrap import build_bus
from business_services.consumer import EventConsumer
from business_services.payments import service
from business_services.payments.model import TakePayment, Tender
from business_services.payments.registry import Providers
from business_services.shifts.model import DENOMINATIONS_FEN, CloseShift, OpenShift
from business_services.station_shifts.handlers import reconcile_all
from business_services.unit_of_work import UnitOfWork
from forecourt.roles import Role, policy
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.events.payments import Method
from tests.integration.sales.payments_support import link_returns
from tests.support.events import FUELLING, STATION, envelope, fuelling

pytestmark = pytest.mark.integration

FUELLINGS, HANDOVER_AFTER = 200, 110
CASHIER = Actor("cashier", "pos-1")
METHODS = (Method.CASH, Method.CASH, Method.BANK_CARD, Method.OTHER)


def tender(n: int, fen: int) -> Tender:
    method = METHODS[n % len(METHODS)]
    return Tender(method, fen, reference=f"V{n:06d}" if method is Method.BANK_CARD else None,
                  note="滴滴代金券" if method is Method.OTHER else None)


def notes_for(fen: int) -> tuple[tuple[int, int], ...]:
    """The drawer's cash as notes and coins, largest first: the count matches what the shift took."""
    count = []
    for denomination in DENOMINATIONS_FEN:
        pieces, fen = divmod(fen, denomination)
        if pieces:
            count.append((denomination, pieces))
    assert fen == 0
    return tuple(count)


async def sell_a_day(conn: psycopg.AsyncConnection, consumer: EventConsumer) -> list[tuple[str, str]]:
    """200 fuellings, paid as they come except every 25th (paid in the next shift); the shifts' numbers."""
    bus, providers, shifts = consumer.bus, Providers(), []
    topic = f"forecourt/v1/g/{STATION}/events/{FUELLING}"

    async def open_shift() -> None:
        async with UnitOfWork(conn, CASHIER) as uow:
            shifts.append(await bus.handle(OpenShift(STATION, "cashier", datetime.now(UTC)), uow))

    async def pay(order_no: str, n: int, fen: int) -> None:
        command = TakePayment(STATION, "pos-1", "cashier", (order_no,), (tender(n, fen),), datetime.now(UTC))
        [paid] = await service.take(conn, bus, providers, command, CASHIER)
        assert paid.state == "succeeded", paid

    async def hand_over(override: str = "") -> None:
        cur = await conn.execute("""SELECT coalesce(sum(p.amount_fen), 0) FROM business.payments p
                                    WHERE p.shift_no = %s AND p.method = 'cash' AND p.state = 'succeeded'""",
                                 (shifts[-1],))
        (cash,) = await cur.fetchone() or (0,)
        close = CloseShift(STATION, shifts[-1], "manager", datetime.now(UTC), (), notes_for(int(cash)),
                           override_reason=override)
        async with UnitOfWork(conn, Actor("manager", "pos-1")) as uow:
            await bus.handle(close, uow)

    await open_shift()
    unpaid: list[tuple[str, int, int]] = []
    for n in range(1, FUELLINGS + 1):
        if n == HANDOVER_AFTER:
            await hand_over(override="交班时仍有未付订单，转入下一班")
            await open_shift()
            for order_no, m, fen in unpaid:          # carried orders, paid in the next shift
                await pay(order_no, m, fen)
        fen = 2000 + 10 * n
        await consumer.handle(conn, topic, envelope(FUELLING, fuelling(n, amount_fen=fen)))
        cur = await conn.execute("SELECT order_no FROM business.orders WHERE fuelling_event_id IS NOT NULL "
                                 "ORDER BY created_at DESC, order_no DESC LIMIT 1")
        (order_no,) = await cur.fetchone() or ("",)
        if n % 25 == 0 and n < HANDOVER_AFTER:
            unpaid.append((order_no, n, fen))
        else:
            await pay(order_no, n, fen)
    await hand_over()
    return [(STATION, s) for s in shifts]


async def test_a_day_without_head_office(database_url: str, station_database_url: str, broker: BrokerAddress) -> None:
    station_consumer = EventConsumer(station_database_url, broker, bus=build_bus(policy(Role.STATION).contexts))
    office = EventConsumer(database_url, broker, bus=build_bus(policy(Role.HEAD_OFFICE).contexts))
    async with await psycopg.AsyncConnection.connect(station_database_url, autocommit=True) as station:
        shifts = await sell_a_day(station, station_consumer)
        waiting = await (await station.execute("SELECT count(*) FROM business.outbox")).fetchone()
        assert waiting is not None and waiting[0] > 2 * FUELLINGS            # orders, payments, shifts: all kept

    sent = await link_returns(station_database_url)
    rng = random.Random(15)
    delivered = sent + rng.sample(sent, len(sent) // 5)                      # a fifth of them twice
    rng.shuffle(delivered)                                                   # and in any order
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as office_db:
        for topic, body in delivered:
            await office.handle(office_db, topic, body)
        await reconcile_all(office_db, datetime.now(UTC))
        dead = await (await office_db.execute("SELECT count(*) FROM business.event_dead_letters")).fetchone()
        assert dead == (0,)
        at_office = await (await office_db.execute(
            "SELECT order_no, status, amount_fen, paid_fen FROM business.station_orders ORDER BY order_no")).fetchall()
        ledger = await (await office_db.execute(
            "SELECT balance FROM business.ledger_balances WHERE code = %s", (f"sales:{STATION}",))).fetchone()
        verdicts = await (await office_db.execute(
            "SELECT station, shift_no, status, sales_fen FROM business.station_shifts ORDER BY opened_at")).fetchall()

    async with await psycopg.AsyncConnection.connect(station_database_url) as station:
        at_station = await (await station.execute(
            "SELECT order_no, status, amount_fen, paid_fen FROM business.orders ORDER BY order_no")).fetchall()
        (taken,) = await (await station.execute(
            "SELECT sum(amount_fen) FROM business.payments WHERE state = 'succeeded'")).fetchone() or (0,)
        closed = await (await station.execute(
            "SELECT station, shift_no, 'matched', (report->>'sales_fen')::bigint FROM business.shifts "
            "ORDER BY opened_at")).fetchall()
    assert len(at_station) == FUELLINGS and at_office == at_station          # every order, once, as it stands
    assert all(status == "paid" for _, status, _, _ in at_office)
    assert ledger == (taken,) and taken == sum(2000 + 10 * n for n in range(1, FUELLINGS + 1))
    assert [(s, no) for s, no, _, _ in verdicts] == shifts and verdicts == closed   # both shifts matched
