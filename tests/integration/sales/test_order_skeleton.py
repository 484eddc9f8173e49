"""The station's bus turns a fuelling into one order; payments settle it, never beyond what it owes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from types import SimpleNamespace

import psycopg
import pytest

from business_services.audit.model import Actor
from business_services.bootstrap import build_bus
from business_services.consumer import EventConsumer
from business_services.orders.model import OrderRuleError
from business_services.shifts.model import OpenShift
from business_services.unit_of_work import UnitOfWork
from forecourt.roles import Role, policy
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.events import CloudEvent
from telemetry.contracts.events.payments import Allocation, Method, PaymentCaptured, PaymentRefunded
from tests.support.events import FUELLING, STATION, envelope, fuelling

pytestmark = pytest.mark.integration

TOPIC = f"forecourt/v1/g/{STATION}/events/{FUELLING}"
CASHIER = Actor(name="cashier", source="127.0.0.1")


def captured(order_no: str, fen: int, n: int = 1) -> PaymentCaptured:
    return PaymentCaptured(payment_no=f"{STATION}-20260301-P{n:05d}", station=STATION, shift_no="st-01-x-S00001",
                           terminal="pos-1", cashier="cashier", method=Method.CASH, amount_fen=fen,
                           allocations=(Allocation(order_no=order_no, amount_fen=fen),), captured_at=datetime.now(UTC))


async def test_one_order_per_fuelling_in_the_open_shift_settled_by_payments(station_database_url: str,
                                                                             broker: BrokerAddress) -> None:
    bus = build_bus(policy(Role.STATION).contexts)
    consumer = EventConsumer(station_database_url, broker, bus=bus)
    async with await psycopg.AsyncConnection.connect(station_database_url, autocommit=True) as conn:
        async with UnitOfWork(conn, CASHIER) as uow:
            shift_no = await bus.handle(OpenShift(STATION, "cashier", datetime.now(UTC)), uow)
        raw = envelope(FUELLING, fuelling(7, amount_fen=29000))
        await consumer.handle(conn, TOPIC, raw)
        await consumer.handle(conn, TOPIC, raw)                                    # redelivered: no second order
        cur = await conn.execute("SELECT order_no, amount_fen, status, shift_no FROM business.orders")
        [(order_no, amount, status, in_shift)] = await cur.fetchall()
        assert (amount, status, in_shift) == (29000, "payable", shift_no)
        assert order_no.startswith(f"{STATION}-") and "-O" in order_no

        async def pay(event: PaymentCaptured | PaymentRefunded) -> None:
            async with UnitOfWork(conn, CASHIER) as uow:
                await bus.handle(event.envelope(source="test", event_id=event.event_id()), uow)

        await pay(captured(order_no, 20000))
        with pytest.raises(OrderRuleError):
            await pay(captured(order_no, 9001, n=2))                               # 1 fen more than it owes
        await pay(captured(order_no, 9000, n=3))
        cur = await conn.execute("SELECT paid_fen, status FROM business.orders WHERE order_no = %s", (order_no,))
        assert await cur.fetchone() == (29000, "paid")

        assert await paid_at(conn, order_no) is not None

        await pay(refunded(order_no, shift_no, 9001, n=1))   # the order's refund check is on all it has paid
        cur = await conn.execute("SELECT paid_fen, status FROM business.orders WHERE order_no = %s", (order_no,))
        assert await cur.fetchone() == (19999, "payable")
        assert await paid_at(conn, order_no) is None
        with pytest.raises(OrderRuleError, match="已收 19999 分，退款不能超过已收"):
            await pay(refunded(order_no, shift_no, 20000, n=2))

        await conn.execute("UPDATE business.orders SET status = 'held', held_reason = 'abnormal' WHERE order_no = %s",
                           (order_no,))
        with pytest.raises(OrderRuleError, match="挂单"):                          # a held order takes no payment
            await pay(captured(order_no, 100, n=4))
        await conn.execute("UPDATE business.orders SET status = 'written_off', written_off_fen = 9001 "
                           "WHERE order_no = %s", (order_no,))
        await pay(refunded(order_no, shift_no, 999, n=3))                          # … a written-off one a refund
        cur = await conn.execute("SELECT paid_fen, status, version FROM business.orders WHERE order_no = %s",
                                 (order_no,))
        assert await cur.fetchone() == (19000, "written_off", 5)     # created, 2 payments, 2 refunds: refused ones
        with pytest.raises(OrderRuleError, match="本站没有订单"):                     # changed nothing
            await pay(captured(f"{STATION}-20260301-O99999", 100, n=5))


def refunded(order_no: str, shift_no: str, fen: int, n: int) -> PaymentRefunded:
    return PaymentRefunded(refund_no=f"{STATION}-20260301-R{n:05d}", payment_no=f"{STATION}-20260301-P00003",
                           station=STATION, shift_no=shift_no, method=Method.CASH, amount_fen=fen,
                           allocations=(Allocation(order_no=order_no, amount_fen=fen),), reason="test",
                           refunded_by="manager", refunded_at=datetime.now(UTC))


async def paid_at(conn: psycopg.AsyncConnection, order_no: str) -> datetime | None:
    cur = await conn.execute("SELECT paid_at FROM business.orders WHERE order_no = %s", (order_no,))
    row = await cur.fetchone()
    assert row is not None
    return row[0]


@dataclass(frozen=True)
class Pay:
    event: CloudEvent


async def pay_by_raising(command: Pay, uow: UnitOfWork) -> None:
    """What the payments context does: raise payment.captured for this process's handlers (and emit it)."""
    uow.raise_event(command.event)


async def test_a_raised_event_coming_back_over_mqtt_is_a_repeat(station_database_url: str,
                                                                broker: BrokerAddress) -> None:
    """The station server's outbox publishes payment.captured; its own consumer receives it: no second payment."""
    payments = SimpleNamespace(COMMAND_HANDLERS={Pay: pay_by_raising}, EVENT_HANDLERS={})
    bus = build_bus((*policy(Role.STATION).contexts, payments))
    consumer = EventConsumer(station_database_url, broker, bus=bus)
    async with await psycopg.AsyncConnection.connect(station_database_url, autocommit=True) as conn:
        await consumer.handle(conn, TOPIC, envelope(FUELLING, fuelling(8, amount_fen=5000)))
        (order_no,) = await (await conn.execute("SELECT order_no FROM business.orders")).fetchone() or ("",)
        payment = captured(order_no, 2000)                                         # twice would still fit
        event = payment.envelope(source="test", event_id=payment.event_id())
        async with UnitOfWork(conn, CASHIER) as uow:
            await bus.handle(Pay(event), uow)
        await consumer.handle(conn, f"forecourt/v1/g/{STATION}/events/payment.captured", event.to_bytes())
        cur = await conn.execute("SELECT paid_fen FROM business.orders WHERE order_no = %s", (order_no,))
        assert await cur.fetchone() == (2000,)
