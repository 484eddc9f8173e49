"""Handlers of the orders context, each ``(message, uow) -> result``.

- ``fuelling.completed`` → one order (unique on the fuelling's event id), in the shift open at the time;
- ``payment.captured`` / ``payment.refunded`` (raised by the payments context in the same unit of work)
  → what each order has been paid; an over-payment or over-refund raises and rolls the payment back.
"""

from __future__ import annotations

from datetime import UTC, datetime

from business_services.messagebus import Handler
from business_services.numbers import Kind, next_number
from business_services.orders import repository
from business_services.orders.model import OrderRuleError, apply
from business_services.shifts import views as shifts
from business_services.unit_of_work import UnitOfWork
from telemetry.contracts.events import CloudEvent
from telemetry.contracts.events.fuelling import LEGACY_FUELING_COMPLETED, FuellingCompleted
from telemetry.contracts.events.payments import Allocation, PaymentCaptured, PaymentRefunded


async def order_fuelling(event: CloudEvent, uow: UnitOfWork) -> str | None:
    """The new order's number; None when this fuelling already has its order."""
    fuelling = FuellingCompleted.from_event(event)
    if await repository.has_fuelling_order(uow.conn, event.id):
        return None
    now = datetime.now(UTC)
    order_no = await next_number(uow.conn, fuelling.station, Kind.ORDER, now)
    shift_no = await shifts.open_shift(uow.conn, fuelling.station, lock=True)   # a closing shift waits for it
    await repository.add_fuelling_order(uow.conn, order_no, event.id, fuelling, shift_no, now)
    return order_no


async def _settle(station: str, allocations: tuple[Allocation, ...], sign: int, uow: UnitOfWork) -> None:
    dues = await repository.dues(uow.conn, station, [a.order_no for a in allocations])
    now = datetime.now(UTC)
    for allocation in allocations:
        due = dues.get(allocation.order_no)
        if due is None:
            raise OrderRuleError(f"本站没有订单 {allocation.order_no} (no order {allocation.order_no} at {station})")
        await repository.set_paid(uow.conn, due.order_no, apply(due, sign * allocation.amount_fen), now)


async def payment_captured(event: CloudEvent, uow: UnitOfWork) -> None:
    payment = PaymentCaptured.from_event(event)
    await _settle(payment.station, payment.allocations, +1, uow)


async def payment_refunded(event: CloudEvent, uow: UnitOfWork) -> None:
    refund = PaymentRefunded.from_event(event)
    await _settle(refund.station, refund.allocations, -1, uow)


EVENT_HANDLERS: dict[str, list[Handler]] = {
    FuellingCompleted.TYPE: [order_fuelling],
    LEGACY_FUELING_COMPLETED: [order_fuelling],
    PaymentCaptured.TYPE: [payment_captured],
    PaymentRefunded.TYPE: [payment_refunded],
}
COMMAND_HANDLERS: dict[type, Handler] = {}
