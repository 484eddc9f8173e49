"""A station's shift, its payments and refunds as the station server reports them to head office, delivered
through head office's real ``EventConsumer``."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg

from business_services.bootstrap import build_bus
from business_services.consumer import EventConsumer
from forecourt.roles import Role, policy
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.events.payments import Allocation, Method, PaymentCaptured, PaymentRefunded
from telemetry.contracts.events.shifts import MethodTakings, ShiftClosed, ShiftOpened

STATION = "st-01"
OPENED_AT = datetime(2026, 12, 4, 0, 30, tzinfo=UTC)
Sent = ShiftOpened | ShiftClosed | PaymentCaptured | PaymentRefunded


def head_office(database_url: str, broker: BrokerAddress) -> EventConsumer:
    return EventConsumer(database_url, broker, bus=build_bus(policy(Role.HEAD_OFFICE).contexts))


@dataclass
class Shift:
    """One shift at the station: what it sold and took, and the events it sends up."""

    number: int
    opened_at: datetime = OPENED_AT
    payments: list[PaymentCaptured] = field(default_factory=list)
    refunds: list[PaymentRefunded] = field(default_factory=list)

    @property
    def shift_no(self) -> str:
        return f"{STATION}-20261204-S{self.number:05d}"

    def pay(self, method: Method, fen: int) -> PaymentCaptured:
        n = f"{self.number}{len(self.payments) + 1:04d}"
        payment = PaymentCaptured(
            payment_no=f"{STATION}-20261204-P{n}", station=STATION, shift_no=self.shift_no, terminal="pos-1",
            cashier="张三", method=method, amount_fen=fen,
            allocations=(Allocation(order_no=f"{STATION}-20261204-O{n}", amount_fen=fen),),
            captured_at=self.opened_at + timedelta(minutes=len(self.payments) + 1))
        self.payments.append(payment)
        return payment

    def refund(self, payment: PaymentCaptured, fen: int) -> PaymentRefunded:
        refund = PaymentRefunded(
            refund_no=f"{STATION}-20261204-R{self.number}{len(self.refunds) + 1:04d}", payment_no=payment.payment_no,
            station=STATION, shift_no=self.shift_no, method=payment.method, amount_fen=fen,
            allocations=(Allocation(order_no=payment.allocations[0].order_no, amount_fen=fen),),
            reason="多收", refunded_by="站长", refunded_at=self.opened_at + timedelta(hours=1))
        self.refunds.append(refund)
        return refund

    def opened(self) -> ShiftOpened:
        return ShiftOpened(shift_no=self.shift_no, station=STATION, definition="早班", opened_by="张三",
                           opened_at=self.opened_at)

    def takings(self) -> dict[Method, tuple[int, int]]:
        """(captured, refunded) per method, as the station counts them at close."""
        out: dict[Method, tuple[int, int]] = {}
        for p in self.payments:
            captured, refunded = out.get(p.method, (0, 0))
            out[p.method] = (captured + p.amount_fen, refunded)
        for r in self.refunds:
            captured, refunded = out.get(r.method, (0, 0))
            out[r.method] = (captured, refunded + r.amount_fen)
        return out

    def closed(self) -> ShiftClosed:
        takings = self.takings()
        cash = takings.get(Method.CASH, (0, 0))
        return ShiftClosed(
            shift_no=self.shift_no, station=STATION, opened_by="张三", opened_at=self.opened_at, closed_by="李四",
            closed_at=self.opened_at + timedelta(hours=8), order_count=len(self.payments),
            sales_fen=sum(p.amount_fen for p in self.payments), volume_l=Decimal("40.00") * len(self.payments),
            takings=tuple(MethodTakings(method=m, captured_fen=c, refunded_fen=r)
                          for m, (c, r) in sorted(takings.items())),
            cash_expected_fen=cash[0] - cash[1], cash_counted_fen=cash[0] - cash[1], over_short_fen=0,
            unpaid_orders=())

    def events(self) -> list[Sent]:
        return [self.opened(), *self.payments, *self.refunds, self.closed()]


async def deliver(consumer: EventConsumer, conn: psycopg.AsyncConnection, payload: Sent,
                  *, event_id: str | None = None) -> None:
    """As the station's outbox sends it: the id from the document's number (``event_id`` for a re-sent copy)."""
    event = payload.envelope(source=f"station:{STATION}", event_id=event_id or payload.event_id())
    await consumer.handle(conn, f"forecourt/v1/g/{STATION}/events/{event.type}", event.to_bytes())


def new_id() -> str:
    return str(uuid.uuid4())


async def rows(conn: psycopg.AsyncConnection, query: str, *params: Any) -> list[tuple[Any, ...]]:
    cur = await conn.execute(query, params)
    return await cur.fetchall()
