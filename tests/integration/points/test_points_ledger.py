"""Points at head office against real PostgreSQL, through the real consumer and bus: earned once per paid member
order (also when order.changed comes before order.created), taken back in proportion on a refund (points already
spent become a points debt that the next earnings pay), spent as a tender, expired once per lot even when the job
runs twice at once, redeemed in the mall with stock taken once, transferred keeping expiry, assigned (积分归属)
within the window. After every story the ledger balance equals what the lots hold."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from business_services.audit.model import Actor
from business_services.bootstrap import build_bus
from business_services.consumer import EventConsumer
from business_services.messagebus import MessageBus
from business_services.points import lots, views
from business_services.points.model import (
    CHINA,
    AddRule,
    Adjust,
    Assign,
    Basis,
    PointsRefused,
    Redeem,
    Rule,
    RuleKind,
    SaveItem,
    Transfer,
)
from business_services.unit_of_work import UnitOfWork
from forecourt.roles import Role, policy
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.events.envelope import EventPayload
from telemetry.contracts.events.orders import OrderChanged, OrderCreated
from telemetry.contracts.events.payments import Allocation, Method, PaymentCaptured, PaymentRefunded

pytestmark = pytest.mark.integration

STATION = "st-01"
SHIFT = "st-01-20261204-S00001"
T0 = datetime(2026, 12, 4, 8, tzinfo=UTC)
ALICE, BOB = "M00000001", "M00000002"


def order_no(n: int) -> str:
    return f"st-01-20261204-O{n:05d}"


def created(n: int, amount_fen: int = 29_000, at: datetime = T0) -> OrderCreated:
    return OrderCreated(order_no=order_no(n), station=STATION, kind="fuelling", status="payable", version=1,
                        fuelling_event_id=f"f{n}", pump="disp-01", fuelling_point=1, nozzle=1, grade=92,
                        volume_l=Decimal("40.00"), price_fen_per_l=725, amount_fen=amount_fen, shift_no=SHIFT,
                        fuelled_at=at, created_at=at)


def paid(n: int, member_no: str | None, amount_fen: int = 29_000, version: int = 2,
         at: datetime = T0) -> OrderChanged:
    return OrderChanged(order_no=order_no(n), station=STATION, version=version, action="payment", status="paid",
                        paid_fen=amount_fen, at=at + timedelta(minutes=1), member_no=member_no)


def refunded(n: int, of_order: int, fen: int, member_no: str | None = ALICE) -> PaymentRefunded:
    return PaymentRefunded(refund_no=f"st-01-20261204-R{n:05d}", payment_no=f"st-01-20261204-P{of_order:05d}",
                           station=STATION, shift_no=SHIFT, method=Method.CASH, amount_fen=fen,
                           allocations=(Allocation(order_no=order_no(of_order), amount_fen=fen),), reason="多收",
                           refunded_by="manager", refunded_at=T0 + timedelta(hours=1), member_no=member_no)


def points_payment(n: int, member_no: str, points: int, fen: int) -> PaymentCaptured:
    return PaymentCaptured(payment_no=f"st-01-20261204-P{n:05d}", station=STATION, shift_no=SHIFT, terminal="pos-1",
                           cashier="c", method=Method.POINTS, amount_fen=fen,
                           allocations=(Allocation(order_no=order_no(n), amount_fen=fen),), captured_at=T0,
                           member_no=member_no, points_spent=points)


class Office:
    """Head office's consumer and bus on the test's database."""

    def __init__(self, database_url: str, broker: BrokerAddress) -> None:
        self.database_url = database_url
        self.consumer = EventConsumer(database_url, broker, bus=build_bus(policy(Role.HEAD_OFFICE).contexts))
        self.bus: MessageBus = self.consumer.bus

    async def deliver(self, *payloads: EventPayload) -> None:
        async with await psycopg.AsyncConnection.connect(self.database_url, autocommit=True) as conn:
            for payload in payloads:
                event = payload.envelope(source=f"station:{STATION}", event_id=payload.event_id())  # type: ignore[attr-defined]
                await self.consumer.handle(conn, f"forecourt/v1/g/{STATION}/events/{event.type}", event.to_bytes())
            cur = await conn.execute("SELECT error FROM business.event_dead_letters")
            assert await cur.fetchall() == [], "an event was dead-lettered"

    async def run(self, command: object) -> Any:
        async with await psycopg.AsyncConnection.connect(self.database_url) as conn, \
                UnitOfWork(conn, Actor("marketing", "test")) as uow:
            return await self.bus.handle(command, uow)

    async def balance(self, member_no: str) -> int:
        async with await psycopg.AsyncConnection.connect(self.database_url) as conn:
            return await views.balance(conn, member_no)

    async def owed(self, member_no: str) -> int:
        async with await psycopg.AsyncConnection.connect(self.database_url) as conn:
            return int((await views.summary(conn, member_no, T0))["debt"])

    async def check_lots_hold_the_balance(self) -> None:
        async with await psycopg.AsyncConnection.connect(self.database_url) as conn:
            cur = await conn.execute("""SELECT a.code, a.balance, coalesce(sum(l.remaining), 0)
                                        FROM business.ledger_accounts a
                                        LEFT JOIN business.points_lots l ON a.code = 'points:' || l.member_no
                                        WHERE a.code ~ '^points:M' GROUP BY a.code, a.balance""")
            rows = await cur.fetchall()
            cur = await conn.execute("SELECT unit, sum(amount) FROM business.ledger_postings GROUP BY unit")
            sums = dict(await cur.fetchall())
        assert rows, "no member accounts"
        assert all(balance == held for _, balance, held in rows), rows
        assert all(total == 0 for total in sums.values()), sums


@pytest.fixture
async def office(database_url: str, broker: BrokerAddress) -> Office:
    office = Office(database_url, broker)
    await office.run(AddRule(Rule(RuleKind.BASE, date(2024, 1, 1), basis=Basis.AMOUNT, rate=Decimal(1),
                                  name="每元 1 分")))
    return office


async def test_a_paid_member_order_earns_once(office: Office) -> None:
    await office.deliver(created(1), paid(1, ALICE), paid(1, ALICE), paid(1, ALICE, version=3))
    await office.deliver(created(2), paid(2, None))                    # no member: nothing
    assert await office.balance(ALICE) == 290
    await office.deliver(paid(3, BOB, amount_fen=10_000), created(3, amount_fen=10_000))   # reordered delivery
    assert await office.balance(BOB) == 100
    await office.check_lots_hold_the_balance()


async def test_a_partial_refund_takes_back_the_share_and_spent_points_become_debt(office: Office) -> None:
    await office.deliver(created(1), paid(1, ALICE))
    await office.deliver(refunded(1, 1, 10_000), refunded(1, 1, 10_000))     # the same refund twice
    assert await office.balance(ALICE) == 190                                # 290 − floor(10000/29000 × 290)
    await office.run(Adjust("adj-00001", ALICE, -150, "兑换实物（线下）", T0 + timedelta(hours=2)))
    assert await office.balance(ALICE) == 40
    await office.deliver(refunded(2, 1, 19_000))            # the rest: 190 wanted, 40 left, 150 owed
    assert (await office.balance(ALICE), await office.owed(ALICE)) == (0, 150)
    await office.deliver(created(2, amount_fen=20_000), paid(2, ALICE, amount_fen=20_000))  # earns 200: 150 repay
    assert (await office.balance(ALICE), await office.owed(ALICE)) == (50, 0)
    await office.check_lots_hold_the_balance()


async def test_points_as_a_tender_spend_once_and_a_shortfall_is_owed(office: Office) -> None:
    await office.deliver(created(1), paid(1, ALICE))
    await office.deliver(points_payment(5, ALICE, 200, 200), points_payment(5, ALICE, 200, 200))
    assert await office.balance(ALICE) == 90
    await office.deliver(points_payment(6, ALICE, 100, 100))        # offline elsewhere: only 90 left
    assert (await office.balance(ALICE), await office.owed(ALICE)) == (0, 10)
    await office.deliver(points_payment(7, ALICE, 100, 100))        # none left: the money side alone posts
    assert (await office.balance(ALICE), await office.owed(ALICE)) == (0, 110)
    async with await psycopg.AsyncConnection.connect(office.database_url) as conn:
        cur = await conn.execute("SELECT balance FROM business.ledger_accounts WHERE code = %s",
                                 (f"clearing:points:{STATION}",))
        assert await cur.fetchone() == (0,)         # the station debits 400 in all, marketing settles all three
    await office.check_lots_hold_the_balance()


async def test_expiry_runs_once_per_lot_even_twice_at_once(office: Office) -> None:
    old = datetime(2024, 6, 1, tzinfo=UTC)                  # expires 2026-01-01 China time
    await office.deliver(created(1, at=old), paid(1, ALICE, at=old), created(2), paid(2, ALICE))
    await office.run(Adjust("adj-00002", BOB, 70, "补偿", old))
    assert await office.balance(ALICE) == 580

    async def job() -> int:
        async with await psycopg.AsyncConnection.connect(office.database_url) as conn, conn.transaction():
            return await lots.expire_due(conn, T0)

    results = await asyncio.gather(job(), job(), job())
    assert sorted(results) == [0, 0, 360]                   # 290 of Alice's old lot, Bob's 70
    assert (await office.balance(ALICE), await office.balance(BOB)) == (290, 0)
    assert await job() == 0
    async with await psycopg.AsyncConnection.connect(office.database_url) as conn:
        cur = await conn.execute("SELECT count(*) FROM business.ledger_entries WHERE kind = 'points.expired'")
        assert await cur.fetchone() == (2,)
    await office.check_lots_hold_the_balance()


async def test_spending_draws_the_oldest_lot_first(office: Office) -> None:
    older = datetime(2025, 3, 1, tzinfo=UTC)                # expires 2027-01-01
    await office.deliver(created(2), paid(2, ALICE), created(1, at=older), paid(1, ALICE, at=older))
    await office.run(Adjust("adj-00003", ALICE, -300, "扣减", T0))
    async with await psycopg.AsyncConnection.connect(office.database_url) as conn:
        summary = await views.summary(conn, ALICE, T0)
    assert [(e["expires_at"].astimezone(CHINA).year, e["points"]) for e in summary["expiring"]] == [(2028, 280)]
    await office.check_lots_hold_the_balance()


async def test_the_mall_takes_stock_once_and_refuses_clearly(office: Office) -> None:
    await office.deliver(created(1, amount_fen=100_000), paid(1, ALICE, amount_fen=100_000))
    await office.run(SaveItem("oil-1l", {"name": "机油 1L", "kind": "goods", "points": 300, "stock": 2,
                                         "value_fen": None, "active": True, "note": ""}, create=True))

    async def redeem(no: str) -> object:
        try:
            return await office.run(Redeem(no, ALICE, "oil-1l", 1, None, T0))
        except PointsRefused as refused:
            return refused.message

    answers = await asyncio.gather(*(redeem(f"red-{n:05d}") for n in range(4)))
    assert answers.count(True) == 2
    assert all("库存不足" in str(a) for a in answers if a is not True), answers
    winner = next(f"red-{n:05d}" for n, answer in enumerate(answers) if answer is True)
    assert await redeem(winner) is False                          # the same redemption again: nothing more
    assert await office.balance(ALICE) == 400
    async with await psycopg.AsyncConnection.connect(office.database_url) as conn:
        item = await views.item(conn, "oil-1l")
    assert item is not None and item["stock"] == 0
    await office.run(SaveItem("oil-1l", {"stock": 5}, create=False))
    with pytest.raises(PointsRefused, match="积分不足"):
        await office.run(Redeem("red-00009", ALICE, "oil-1l", 2, None, T0))
    async with await psycopg.AsyncConnection.connect(office.database_url) as conn:
        item = await views.item(conn, "oil-1l")
    assert item is not None and item["stock"] == 5             # the refused redemption took no stock
    await office.check_lots_hold_the_balance()


async def test_transfer_keeps_expiry_and_assign_moves_a_sale_within_the_window(office: Office) -> None:
    older = datetime(2025, 3, 1, tzinfo=UTC)
    await office.deliver(created(1, at=older), paid(1, ALICE, at=older))
    assert await office.run(Transfer("tr-00001", ALICE, BOB, 100, T0)) is True
    assert await office.run(Transfer("tr-00001", ALICE, BOB, 100, T0)) is False     # a replay moves nothing
    async with await psycopg.AsyncConnection.connect(office.database_url) as conn:
        bob = await views.summary(conn, BOB, T0)
    assert [(e["expires_at"].astimezone(CHINA).year, e["points"]) for e in bob["expiring"]] == [(2027, 100)]

    await office.deliver(created(2, at=T0), paid(2, ALICE, at=T0), created(3, amount_fen=5_000, at=T0),
                         paid(3, None, amount_fen=5_000, at=T0))
    assert await office.run(Assign(STATION, order_no(2), BOB, T0 + timedelta(days=3))) == 290
    assert await office.run(Assign(STATION, order_no(3), BOB, T0 + timedelta(days=3))) == 50   # a non-member sale
    assert (await office.balance(ALICE), await office.balance(BOB)) == (190, 440)
    with pytest.raises(PointsRefused, match="已归属"):
        await office.run(Assign(STATION, order_no(2), ALICE, T0 + timedelta(days=3)))
    await office.deliver(created(4, at=T0), paid(4, None, at=T0))
    with pytest.raises(PointsRefused, match="期限"):
        await office.run(Assign(STATION, order_no(4), BOB, T0 + timedelta(days=8)))
    await office.deliver(refunded(1, 2, 29_000, member_no=ALICE))      # the refund takes back from Bob, who holds
    assert (await office.balance(ALICE), await office.balance(BOB)) == (190, 150)
    await office.check_lots_hold_the_balance()


async def test_a_refund_before_its_order_is_known_is_taken_back_at_the_award(office: Office) -> None:
    await office.deliver(paid(1, ALICE), refunded(1, 1, 10_000), created(1))     # created last (a reordered delivery)
    assert await office.balance(ALICE) == 190
    await office.deliver(refunded(1, 1, 10_000))                                  # the same refund again: nothing
    assert await office.balance(ALICE) == 190
    await office.check_lots_hold_the_balance()
