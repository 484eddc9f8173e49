"""Handlers of the shifts context: one function per command or event, each ``(message, uow) -> result``.

- ``OpenShift``: a cashier takes charge; start readings entered by hand, else each nozzle's last fuelling, else
  (a nozzle that has never sold here: the station's first shift) the pump's live totalizer;
- ``CloseShift``: the handover — locks the shift FOR UPDATE (waits for payments in flight, refuses later
  ones), checks unpaid orders, nozzles and cash, freezes the report and emits ``shift.closed``;
- ``payment.captured`` / ``payment.refunded`` → the takings of the shift the payment names, refused when that
  shift has closed (a payment never lands in a closed shift).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from business_services.audit.model import AuditEntry
from business_services.messagebus import Handler
from business_services.numbers import STATION_ZONE, Kind, next_number
from business_services.orders import views as orders
from business_services.shifts import repository, views
from business_services.shifts.model import (
    CashCheck,
    CloseShift,
    NozzleKey,
    OpenShift,
    Reading,
    ShiftConflict,
    ShiftNotFound,
    UnpaidOrders,
    check_cash,
    counted_fen,
    definition_at,
)
from business_services.stations import views as stations
from business_services.unit_of_work import UnitOfWork
from telemetry.contracts.events import CloudEvent
from telemetry.contracts.events.payments import Method, PaymentCaptured, PaymentRefunded
from telemetry.contracts.events.shifts import MethodTakings, ShiftClosed, ShiftOpened

ALREADY_OPEN = "本站已有未交班的班次，请先交班 (the station has an open shift; hand it over first)"
SOURCE = "forecourt/station/shifts"


async def open_shift(command: OpenShift, uow: UnitOfWork) -> str:
    """The new shift's number; refused while the station has a shift open."""
    if await views.open_shift(uow.conn, command.station) is not None:
        raise ShiftConflict(ALREADY_OPEN)
    shift_no = await next_number(uow.conn, command.station, Kind.SHIFT, command.at)
    definition = definition_at(await views.definitions(uow.conn, command.station),
                               command.at.astimezone(STATION_ZONE).time())
    if not await repository.open_shift(uow.conn, shift_no, command, definition):
        raise ShiftConflict(ALREADY_OPEN)
    readings = {r.nozzle: (r, "hand") for r in command.hand_readings}
    for pump, point, nozzle, litres in await orders.latest_totalizers(uow.conn, command.station):
        key = NozzleKey(pump, point, nozzle)
        readings.setdefault(key, (Reading(key, Decimal(str(litres))), "pump"))
    for live in command.live_readings:
        readings.setdefault(live.nozzle, (live, "pump"))
    await repository.set_start_readings(uow.conn, shift_no, list(readings.values()))
    await uow.audit(AuditEntry("shift.open", shift_no, command.station, None, {"by": command.by}))
    opened = ShiftOpened(shift_no=shift_no, station=command.station, definition=definition, opened_by=command.by,
                         opened_at=command.at)
    uow.emit(await stations.event_topic_for(uow.conn, command.station, opened.TYPE),
             opened.envelope(source=SOURCE, subject=command.station, event_id=opened.event_id()))
    return shift_no


async def close_shift(command: CloseShift, uow: UnitOfWork) -> dict[str, Any]:
    """The frozen handover report of the shift."""
    locked = await repository.lock_for_close(uow.conn, command.station, command.shift_no)
    if locked is None:
        raise ShiftNotFound(f"本站没有班次 {command.shift_no} (no shift {command.shift_no} at {command.station})")
    if locked[0] != "open":
        raise ShiftConflict(f"班次 {command.shift_no} 已交班 (shift {command.shift_no} is already closed)")
    counted = counted_fen(command.cash_count)          # a bad count is a bad request, whatever the shift's state
    await repository.set_end_readings(uow.conn, command.shift_no, command.end_readings)
    found = await views.shift(uow.conn, command.station, command.shift_no)
    if found is None:
        raise ShiftNotFound(command.shift_no)
    report = await views.live_report(uow.conn, found, command.at)
    unpaid = tuple(o["order_no"] for o in report["unpaid"])
    if unpaid and not command.override_reason.strip():
        raise UnpaidOrders(unpaid)
    cash_fen = sum(t["net_fen"] for t in report["takings"] if t["method"] == Method.CASH)
    cash = CashCheck(cash_fen, counted)
    check_cash(cash, command.explanation, command.tolerance_fen)
    override = (command.override_reason.strip() or None) if unpaid else None   # nothing to override otherwise
    report |= {"status": "closed", "closed_at": command.at.isoformat(), "closed_by": command.by,
               "override_reason": override,
               "cash": {"expected_fen": cash.expected_fen, "counted_fen": cash.counted_fen,
                        "over_short_fen": cash.over_short_fen, "tolerance_fen": command.tolerance_fen,
                        "explanation": command.explanation.strip() or None,
                        "count": [{"denomination_fen": d, "pieces": n} for d, n in command.cash_count if n]}}
    await repository.close(uow.conn, command.shift_no, command.by, command.at, report, override)
    if override:
        await uow.audit(AuditEntry("shift.close.override", command.shift_no, command.station, None,
                                   {"reason": override, "unpaid_orders": list(unpaid)}))
    await uow.audit(AuditEntry("shift.close", command.shift_no, command.station, None,
                               {"cash": report["cash"], "takings_fen": report["takings_fen"]}))
    closed = _closed_event(report)
    uow.emit(await stations.event_topic_for(uow.conn, command.station, closed.TYPE),
             closed.envelope(source=SOURCE, subject=command.station, event_id=closed.event_id()))
    return report


def _closed_event(report: dict[str, Any]) -> ShiftClosed:
    cash = report["cash"]
    return ShiftClosed(
        shift_no=report["shift_no"], station=report["station"], opened_by=report["person_in_charge"],
        opened_at=report["opened_at"], closed_by=report["closed_by"], closed_at=report["closed_at"],
        order_count=report["order_count"], sales_fen=report["sales_fen"], volume_l=Decimal(report["volume_l"]),
        takings=tuple(MethodTakings(method=t["method"], captured_fen=t["captured_fen"], refunded_fen=t["refunded_fen"])
                      for t in report["takings"]),
        cash_expected_fen=cash["expected_fen"], cash_counted_fen=cash["counted_fen"],
        over_short_fen=cash["over_short_fen"], unpaid_orders=tuple(o["order_no"] for o in report["unpaid"]),
        override_reason=report["override_reason"])


async def _take(uow: UnitOfWork, kind: str, document_no: str, shift_no: str, method: str, amount_fen: int,
                at: datetime) -> None:
    """Count a payment or refund in the shift it names; refused when that shift has closed."""
    if await repository.add_taking(uow.conn, kind, document_no, shift_no, method, amount_fen, at) == "closed":
        raise ShiftConflict(f"班次 {shift_no} 已交班，不能再收款，请在新班次收款 "
                            f"(shift {shift_no} is closed; take the payment in the open shift)")


async def payment_captured(event: CloudEvent, uow: UnitOfWork) -> None:
    payment = PaymentCaptured.from_event(event)
    await _take(uow, "captured", payment.payment_no, payment.shift_no, payment.method, payment.amount_fen,
                payment.captured_at)


async def payment_refunded(event: CloudEvent, uow: UnitOfWork) -> None:
    refund = PaymentRefunded.from_event(event)
    await _take(uow, "refunded", refund.refund_no, refund.shift_no, refund.method, refund.amount_fen,
                refund.refunded_at)


EVENT_HANDLERS: dict[str, list[Handler]] = {PaymentCaptured.TYPE: [payment_captured],
                                            PaymentRefunded.TYPE: [payment_refunded]}
COMMAND_HANDLERS: dict[type, Handler] = {OpenShift: open_shift, CloseShift: close_shift}
