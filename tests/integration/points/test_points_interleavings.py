"""Random stories of points under random interleavings (Hypothesis), against real PostgreSQL through the real
consumer and bus: earnings, partial refunds, deductions, transfers, points tenders and expiry runs, some of them
at once on their own connections, then every one of them again. Whatever the order: every entry balances, no
member's points go below zero, the ledger balance of each member equals what the member's lots hold, debts are
never negative, and the replay changes nothing."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from business_services.audit.model import Actor
from business_services.bootstrap import build_bus
from business_services.consumer import EventConsumer
from business_services.points import lots
from business_services.points.model import AddRule, Adjust, Basis, PointsRefused, Rule, RuleKind, Transfer
from business_services.unit_of_work import UnitOfWork
from forecourt.roles import Role, policy
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.events.envelope import EventPayload
from telemetry.contracts.events.orders import OrderChanged, OrderCreated
from telemetry.contracts.events.payments import Allocation, Method, PaymentCaptured, PaymentRefunded

pytestmark = pytest.mark.integration

STATION, SHIFT = "st-01", "st-01-20261204-S00001"
T0 = datetime(2026, 12, 4, 8, tzinfo=UTC)
OLD = datetime(2024, 3, 1, tzinfo=UTC)            # its lots expired on 2026-01-01
STORY = itertools.count(1)                        # each example its own members and documents

ops = st.lists(st.one_of(
    st.tuples(st.just("earn"), st.integers(0, 2), st.integers(100, 50_000), st.booleans()),
    st.tuples(st.just("refund"), st.integers(0, 5), st.integers(1, 100)),
    st.tuples(st.just("deduct"), st.integers(0, 2), st.integers(1, 400)),
    st.tuples(st.just("transfer"), st.integers(0, 2), st.integers(0, 2), st.integers(1, 300)),
    st.tuples(st.just("tender"), st.integers(0, 2), st.integers(1, 300)),
    st.tuples(st.just("expire")),
), min_size=1, max_size=10)


class Story:
    def __init__(self, database_url: str, consumer: EventConsumer, n: int) -> None:
        self.database_url, self.consumer, self.n = database_url, consumer, n
        self.members = [f"M{n:04d}{m:05d}" for m in range(3)]
        self.orders: list[int] = []        # amounts of the orders made so far, by index
        self.refused: set[str] = set()     # commands refused (too few points): a replay would be a new request
        self.again = False                 # replaying: events under new ids (past the consumer's own check)

    def order_no(self, i: int) -> str:
        return f"st-01-20261204-O{self.n:04d}{i:03d}"

    async def deliver(self, *payloads: EventPayload) -> None:
        async with await psycopg.AsyncConnection.connect(self.database_url, autocommit=True) as conn:
            for payload in payloads:
                event_id = payload.event_id() + ("-again" if self.again else "")  # type: ignore[attr-defined]
                event = payload.envelope(source=f"station:{STATION}", event_id=event_id)
                await self.consumer.handle(conn, f"forecourt/v1/g/{STATION}/events/{event.type}", event.to_bytes())

    async def command(self, number: str, command: object) -> None:
        if number in self.refused:
            return
        try:
            async with await psycopg.AsyncConnection.connect(self.database_url) as conn, \
                    UnitOfWork(conn, Actor("tester", "test")) as uow:
                await self.consumer.bus.handle(command, uow)
        except PointsRefused:
            assert not self.again, "a replay of a command that was done is refused"
            self.refused.add(number)       # too few points: refused, nothing changed

    def plan(self, op: tuple[Any, ...], k: int) -> Any:
        """The coroutine function of one step (called again for the replay)."""
        kind = op[0]
        if kind == "earn":
            _, m, fen, old = op
            i = len(self.orders)
            self.orders.append(fen)
            at = OLD if old else T0
            created = OrderCreated(order_no=self.order_no(i), station=STATION, kind="fuelling", status="payable",
                                   version=1, grade=92, volume_l=Decimal("10.00"), amount_fen=fen, created_at=at)
            paid = OrderChanged(order_no=self.order_no(i), station=STATION, version=2, action="payment",
                                status="paid", paid_fen=fen, at=at, member_no=self.members[m])
            return lambda: self.deliver(created, paid)
        if kind == "refund":
            if not self.orders:
                return None
            _, which, pct = op
            i = which % len(self.orders)
            fen = max(1, self.orders[i] * pct // 100)
            refund = PaymentRefunded(refund_no=f"st-01-20261204-R{self.n:04d}{k:03d}",
                                     payment_no=f"st-01-20261204-P{self.n:04d}{i:03d}", station=STATION,
                                     shift_no=SHIFT, method=Method.CASH, amount_fen=fen,
                                     allocations=(Allocation(order_no=self.order_no(i), amount_fen=fen),),
                                     reason="退款", refunded_by="m", refunded_at=T0 + timedelta(hours=1))
            return lambda: self.deliver(refund)
        if kind == "deduct":
            _, m, points = op
            return lambda: self.command(f"adj-{k}", Adjust(f"adj-{self.n}-{k}", self.members[m], -points, "扣减", T0))
        if kind == "transfer":
            _, a, b, points = op
            if a == b:
                return None
            return lambda: self.command(f"tr-{k}", Transfer(f"tr-{self.n}-{k}", self.members[a], self.members[b],
                                                            points, T0))
        if kind == "tender":
            _, m, points = op
            paid_with = PaymentCaptured(payment_no=f"st-01-20261204-Q{self.n:04d}{k:03d}", station=STATION,
                                        shift_no=SHIFT, terminal="pos-1", cashier="c", method=Method.POINTS,
                                        amount_fen=points, captured_at=T0, member_no=self.members[m],
                                        points_spent=points,
                                        allocations=(Allocation(order_no=self.order_no(999), amount_fen=points),))
            return lambda: self.deliver(paid_with)

        async def expire(now: datetime = T0) -> None:
            async with await psycopg.AsyncConnection.connect(self.database_url) as conn, conn.transaction():
                await lots.expire_due(conn, now)
        return expire

    async def state(self) -> dict[str, tuple[int, int, int]]:
        """Per member: ledger balance, points in lots, debt."""
        async with await psycopg.AsyncConnection.connect(self.database_url) as conn:
            found = {}
            for member in self.members:
                cur = await conn.execute(
                    """SELECT coalesce((SELECT balance FROM business.ledger_accounts
                                        WHERE code = 'points:' || %(m)s), 0),
                              coalesce((SELECT sum(remaining) FROM business.points_lots WHERE member_no = %(m)s), 0),
                              coalesce((SELECT owed FROM business.points_debts WHERE member_no = %(m)s), 0)""",
                    {"m": member})
                row = await cur.fetchone()
                assert row is not None
                found[member] = (int(row[0]), int(row[1]), int(row[2]))
            cur = await conn.execute("SELECT unit, sum(amount) FROM business.ledger_postings GROUP BY unit")
            assert all(total == 0 for _, total in await cur.fetchall())
        return found


@pytest.fixture
def office(database_url: str, broker: BrokerAddress) -> EventConsumer:
    consumer = EventConsumer(database_url, broker, bus=build_bus(policy(Role.HEAD_OFFICE).contexts))

    async def rule() -> None:
        async with await psycopg.AsyncConnection.connect(database_url) as conn, \
                UnitOfWork(conn, Actor("tester", "test")) as uow:
            await consumer.bus.handle(AddRule(Rule(RuleKind.BASE, date(2024, 1, 1), basis=Basis.AMOUNT,
                                                   rate=Decimal(1))), uow)
    asyncio.run(rule())
    return consumer


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=ops, together=st.lists(st.booleans(), min_size=14, max_size=14))
def test_any_interleaving_keeps_points_whole(database_url: str, office: EventConsumer, steps: list[tuple[Any, ...]],
                                             together: list[bool]) -> None:
    story = Story(database_url, office, next(STORY))

    async def run() -> None:
        planned = [work for k, op in enumerate(steps) if (work := story.plan(op, k)) is not None]
        batch: list[Any] = []
        for k, work in enumerate(planned):          # runs of steps marked "together" go at once
            batch.append(work)
            if not together[k % len(together)] or k == len(planned) - 1:
                await asyncio.gather(*(w() for w in batch))
                batch = []
        await story.plan(("expire",), 0)(T0 + timedelta(hours=2))   # what is due by then: a replay expires nothing
        first = await story.state()
        for member, (balance, held, owed) in first.items():
            assert balance >= 0 and owed >= 0, (member, balance, owed)
            assert balance == held, (member, balance, held)
        story.again = True
        await asyncio.gather(*(work() for work in planned))       # every step again, all at once
        assert await story.state() == first

    asyncio.run(run())
