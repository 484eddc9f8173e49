"""Handlers of the orders context, each ``(message, uow) -> result``.

- ``fuelling.completed`` → one order (unique on the fuelling's event id), in the shift open at the time;
- ``payment.captured`` / ``payment.refunded`` (raised by the payments context in the same unit of work)
  → what each order has been paid; an over-payment or over-refund raises and rolls the payment back;
- the POS's and the manager's commands: lock, unlock, hold, release, write-off (approved), make-up (approved)
  and manual orders, tags and notes.

Every change counts one version (``repository.changed``) and emits ``order.changed`` with an id made of the
order number and that version; every sensitive change is audited in the same unit of work.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, NoReturn

from business_services.approvals import handlers as approvals
from business_services.approvals import registry
from business_services.approvals import views as approval_views
from business_services.approvals.model import PENDING, ApprovalKind, ApprovalRequest, NotPending, Rule
from business_services.audit.model import AuditEntry
from business_services.messagebus import Handler
from business_services.numbers import Kind, next_number
from business_services.orders import repository
from business_services.orders.model import (
    LOCK_TTL,
    STARTS_FROM,
    AttachMember,
    CreateOrder,
    Due,
    EditOrder,
    HoldOrder,
    LockOrder,
    OrderConflict,
    OrderNotFound,
    OrderRuleError,
    ReleaseOrder,
    RequestWriteOff,
    Status,
    UnlockOrder,
    apply,
    check_action,
    check_lock,
)
from business_services.shifts import views as shifts
from business_services.stations import views as stations
from business_services.unit_of_work import UnitOfWork
from telemetry.contracts.events import CloudEvent
from telemetry.contracts.events.fuelling import LEGACY_FUELING_COMPLETED, FuellingCompleted
from telemetry.contracts.events.orders import OrderChanged, OrderCreated
from telemetry.contracts.events.payments import Allocation, PaymentCaptured, PaymentRefunded

SOURCE = "business/orders"
APPROVE = "order:approve"     # who may approve a make-up or a write-off (station managers and above)


# --- events up -------------------------------------------------------------------------------------

async def _created(uow: UnitOfWork, row: dict[str, Any]) -> None:
    event = OrderCreated.model_validate({k: row[k] for k in OrderCreated.model_fields if k in row})
    uow.emit(await stations.event_topic_for(uow.conn, row["station"], OrderCreated.TYPE),
             event.envelope(source=SOURCE, subject=row["order_no"], event_id=event.event_id()))


async def _change(uow: UnitOfWork, order_no: str, action: str, at: datetime,
                  detail: dict[str, Any] | None = None) -> dict[str, Any]:
    """Count the change (version, history, live streams) and emit ``order.changed``; the order as it now is."""
    row = await repository.changed(uow.conn, order_no, action, uow.actor.name, at, detail)
    await _emit_changed(uow, row, action, at)
    return row


async def _emit_changed(uow: UnitOfWork, row: dict[str, Any], action: str, at: datetime) -> None:
    event = OrderChanged(order_no=row["order_no"], station=row["station"], version=row["version"], action=action,
                         status=row["status"], paid_fen=row["paid_fen"], written_off_fen=row["written_off_fen"],
                         tags=row["tags"], note=row["note"], held_reason=row["held_reason"],
                         held_note=row["held_note"], at=at, member_no=row.get("member_no"), plate=row.get("plate"))
    uow.emit(await stations.event_topic_for(uow.conn, row["station"], OrderChanged.TYPE),
             event.envelope(source=SOURCE, subject=row["order_no"], event_id=event.event_id()))


async def _order(uow: UnitOfWork, station: str, order_no: str) -> dict[str, Any]:
    row = await repository.locked(uow.conn, station, order_no)
    if row is None:
        raise OrderNotFound(f"本站没有订单 {order_no} (no order {order_no} at {station})")
    return row


def _snapshot(row: dict[str, Any]) -> dict[str, Any]:
    keys = ("status", "amount_fen", "paid_fen", "tags", "note", "held_reason", "held_note", "written_off_fen")
    return {k: row[k] for k in keys}


# --- from the pumps and the payments context -------------------------------------------------------

async def order_fuelling(event: CloudEvent, uow: UnitOfWork) -> str | None:
    """The new order's number; None when this fuelling already has its order."""
    fuelling = FuellingCompleted.from_event(event)
    if await repository.has_fuelling_order(uow.conn, event.id):
        return None
    now = datetime.now(UTC)
    order_no = await next_number(uow.conn, fuelling.station, Kind.ORDER, now)
    shift_no = await shifts.open_shift(uow.conn, fuelling.station, lock=True)   # a closing shift waits for it
    await repository.add_fuelling_order(uow.conn, order_no, event.id, fuelling, shift_no, now)
    await _created(uow, await repository.changed(uow.conn, order_no, "created", uow.actor.name, now))
    return order_no


async def _settle(station: str, allocations: tuple[Allocation, ...], sign: int, document_no: str,
                  uow: UnitOfWork) -> None:
    """Each order's paid amount moved by its allocation, one statement an order, in order-number order (two
    payments of overlapping orders take the rows' locks in one order: no deadlock). Where the statement
    changes nothing, the order is read to say why (``apply``) and the whole unit of work rolls back."""
    now, action = datetime.now(UTC), "payment" if sign > 0 else "refund"
    for allocation in sorted(allocations, key=lambda a: a.order_no):
        delta = sign * allocation.amount_fen
        detail = {"document_no": document_no, "amount_fen": allocation.amount_fen}
        row = await repository.paid(uow.conn, station, allocation.order_no, delta, STARTS_FROM["pay"], action,
                                    uow.actor.name, now, detail)
        if row is None:
            _refused(station, allocation.order_no, delta,
                     await repository.dues(uow.conn, station, [allocation.order_no]))
        await _emit_changed(uow, row, action, now)


def _refused(station: str, order_no: str, delta_fen: int, dues: dict[str, Due]) -> NoReturn:
    due = dues.get(order_no)
    if due is None:
        raise OrderRuleError(f"本站没有订单 {order_no} (no order {order_no} at {station})")
    apply(due, delta_fen)                       # raises: the statement found the amount or the status wrong
    raise OrderConflict(f"订单 {order_no} 刚被修改，请重试 (order {order_no} changed meanwhile; try again)")


async def payment_captured(event: CloudEvent, uow: UnitOfWork) -> None:
    payment = PaymentCaptured.from_event(event)
    await _settle(payment.station, payment.allocations, +1, payment.payment_no, uow)


async def payment_refunded(event: CloudEvent, uow: UnitOfWork) -> None:
    refund = PaymentRefunded.from_event(event)
    await _settle(refund.station, refund.allocations, -1, refund.refund_no, uow)


# --- the POS's lock --------------------------------------------------------------------------------

async def lock_order(command: LockOrder, uow: UnitOfWork) -> datetime:
    """Take or renew the lock for ``terminal``; returns until when it holds. 409 while another terminal has it."""
    row = await _order(uow, command.station, command.order_no)
    check_lock(command.order_no, row["status"], row["locked_by"], row["locked_until"], command.terminal, command.now)
    until = command.now + LOCK_TTL
    await repository.update(uow.conn, command.order_no, locked_by=command.terminal, locked_until=until,
                            changed_at=command.now)
    await repository.notify(uow.conn, command.station)
    return until


async def unlock_order(command: UnlockOrder, uow: UnitOfWork) -> bool:
    """Release the terminal's own lock; False when it did not hold one (a retry changes nothing)."""
    row = await _order(uow, command.station, command.order_no)
    if row["locked_by"] != command.terminal:
        return False
    await repository.update(uow.conn, command.order_no, locked_by=None, locked_until=None,
                            changed_at=datetime.now(UTC))
    await repository.notify(uow.conn, command.station)
    return True


# --- held orders, make-up and manual orders, tags -------------------------------------------------

async def hold_order(command: HoldOrder, uow: UnitOfWork) -> dict[str, Any]:
    row = await _order(uow, command.station, command.order_no)
    if row["status"] == Status.HELD and row["held_reason"] == command.reason and row["held_note"] == command.note:
        return row                                               # the same request again: nothing changes
    check_action("hold", command.order_no, row["status"])
    now = datetime.now(UTC)
    await repository.update(uow.conn, command.order_no, status=Status.HELD.value, held_reason=command.reason.value,
                            held_note=command.note, locked_by=None, locked_until=None)
    after = await _change(uow, command.order_no, "hold", now, {"reason": command.reason.value, "note": command.note})
    await uow.audit(AuditEntry("order.hold", f"order:{command.order_no}", command.station, _snapshot(row),
                               _snapshot(after)))
    return after


async def release_order(command: ReleaseOrder, uow: UnitOfWork) -> dict[str, Any]:
    row = await _order(uow, command.station, command.order_no)
    if row["status"] == Status.PAYABLE:
        return row                                               # already released
    check_action("release", command.order_no, row["status"])
    if await _waiting_approval(uow, row):
        raise OrderConflict(f"订单 {command.order_no} 的核销正在审批，请先撤回申请 "
                            f"(a write-off of {command.order_no} awaits approval; cancel it first)")
    await repository.update(uow.conn, command.order_no, status=Status.PAYABLE.value, held_reason=None, held_note=None,
                            approval_id=None)
    after = await _change(uow, command.order_no, "release", datetime.now(UTC))
    await uow.audit(AuditEntry("order.release", f"order:{command.order_no}", command.station, _snapshot(row),
                               _snapshot(after)))
    return after


async def _waiting_approval(uow: UnitOfWork, row: dict[str, Any]) -> bool:
    """Whether the order's make-up or write-off request is still pending (rejected, cancelled, expired: no)."""
    if row["approval_id"] is None:
        return False
    request = await approval_views.one(uow.conn, row["approval_id"])
    return request is not None and request["status"] == PENDING and request["expires_at"] > datetime.now(UTC)


async def request_write_off(command: RequestWriteOff, uow: UnitOfWork) -> str:
    """Ask for approval to write off the held order's outstanding amount; the approval request's id (the
    pending one if it was asked before)."""
    row = await _order(uow, command.station, command.order_no)
    if await _waiting_approval(uow, row):
        return str(row["approval_id"])                           # already asked: the same request
    check_action("write_off", command.order_no, row["status"])
    outstanding = row["amount_fen"] - row["paid_fen"]
    request = await approvals.request_approval(
        uow, WRITE_OFF.name, command.station, f"挂单核销 {command.order_no} {outstanding / 100:.2f} 元",
        {"order_no": command.order_no, "amount_fen": outstanding, "reason": command.reason})
    await repository.update(uow.conn, command.order_no, approval_id=request.id)
    await uow.audit(AuditEntry("order.write_off.request", f"order:{command.order_no}", command.station, None,
                               {"approval": str(request.id), "amount_fen": outstanding, "reason": command.reason}))
    return str(request.id)


async def _write_off_approved(request: ApprovalRequest, uow: UnitOfWork) -> None:
    order_no = str(request.payload["order_no"])
    row = await _order(uow, str(request.station), order_no)
    if row["status"] != Status.HELD or str(row["approval_id"]) != str(request.id):
        raise NotPending(f"订单 {order_no} 已不是待核销的挂单 (order {order_no} is no longer held for this write-off)")
    await repository.update(uow.conn, order_no, status=Status.WRITTEN_OFF.value, approval_id=None,
                            written_off_fen=row["amount_fen"] - row["paid_fen"])
    after = await _change(uow, order_no, "write_off", datetime.now(UTC), {"approval": str(request.id)})
    await uow.audit(AuditEntry("order.write_off", f"order:{order_no}", request.station, _snapshot(row),
                               _snapshot(after)))


async def create_order(command: CreateOrder, uow: UnitOfWork) -> dict[str, Any]:
    """A make-up order (pending approval, ``order.make_up``) or a manual sale (payable at once)."""
    now = datetime.now(UTC)
    order_no = await next_number(uow.conn, command.station, Kind.ORDER, now)
    shift_no = await shifts.open_shift(uow.conn, command.station, lock=True)
    await repository.add_order(uow.conn, order_no, command, shift_no, uow.actor.name, now)
    row = await repository.changed(uow.conn, order_no, "created", uow.actor.name, now)
    await _created(uow, row)
    if command.first_status == Status.PENDING_APPROVAL:
        request = await approvals.request_approval(
            uow, MAKE_UP.name, command.station, f"补单 {order_no} {command.amount_fen / 100:.2f} 元",
            {"order_no": order_no, "amount_fen": command.amount_fen, "reason": command.reason})
        await repository.update(uow.conn, order_no, approval_id=request.id)
        row = {**row, "approval_id": request.id}
    await uow.audit(AuditEntry(f"order.{command.kind.value}", f"order:{order_no}", command.station, None,
                               {**_snapshot(row), "kind": command.kind.value, "reason": command.reason,
                                "approval": None if row["approval_id"] is None else str(row["approval_id"])}))
    return row


async def _make_up_approved(request: ApprovalRequest, uow: UnitOfWork) -> None:
    order_no = str(request.payload["order_no"])
    row = await _order(uow, str(request.station), order_no)
    check_action("approve_make_up", order_no, row["status"])
    await repository.update(uow.conn, order_no, status=Status.PAYABLE.value, approval_id=None)
    after = await _change(uow, order_no, "make_up_approved", datetime.now(UTC), {"approval": str(request.id)})
    await uow.audit(AuditEntry("order.make_up.approve", f"order:{order_no}", request.station, _snapshot(row),
                               _snapshot(after)))


async def _make_up_closed(request: ApprovalRequest, uow: UnitOfWork) -> None:
    """The make-up was refused or withdrawn: the order will never be payable (kept, marked, audited)."""
    order_no = str(request.payload["order_no"])
    row = await _order(uow, str(request.station), order_no)
    check_action("reject_make_up", order_no, row["status"])
    await repository.update(uow.conn, order_no, status=Status.REJECTED.value, approval_id=None)
    after = await _change(uow, order_no, "make_up_rejected", datetime.now(UTC),
                          {"approval": str(request.id), "outcome": request.status})
    await uow.audit(AuditEntry("order.make_up.reject", f"order:{order_no}", request.station, _snapshot(row),
                               _snapshot(after)))


async def edit_order(command: EditOrder, uow: UnitOfWork) -> dict[str, Any]:
    row = await _order(uow, command.station, command.order_no)
    values: dict[str, Any] = {}
    if command.tags is not None:
        tags = repository.tags_json(command.tags)
        if [dict(t) for t in row["tags"]] != [{"name": t.name, "amount_fen": t.amount_fen} for t in command.tags]:
            values["tags"] = tags
    if command.note is not None and command.note != row["note"]:
        values["note"] = command.note
    if not values:
        return row                                               # nothing new: no version, no audit, no event
    await repository.update(uow.conn, command.order_no, **values)
    after = await _change(uow, command.order_no, "edit", datetime.now(UTC), {k: values[k] for k in values})
    await uow.audit(AuditEntry("order.edit", f"order:{command.order_no}", command.station,
                               {"tags": row["tags"], "note": row["note"]},
                               {"tags": after["tags"], "note": after["note"]}))
    return after


async def attach_member(command: AttachMember, uow: UnitOfWork) -> list[dict[str, Any]]:
    """The orders as they now are, each sold to the member (one version and ``order.changed`` each; an order
    already the member's changes nothing). 409 when one is paid already."""
    rows, now = [], datetime.now(UTC)
    for order_no in sorted(command.order_nos):            # in number order: no deadlock with a payment
        row = await _order(uow, command.station, order_no)
        plate = command.plate or row["plate"]
        if row["member_no"] == command.member_no and row["plate"] == plate:
            rows.append(row)
            continue
        check_action("member", order_no, row["status"])
        await repository.update(uow.conn, order_no, member_no=command.member_no, plate=plate)
        after = await _change(uow, order_no, "member", now, {"member_no": command.member_no})
        await uow.audit(AuditEntry("order.member", f"order:{order_no}", command.station,
                                   {"member_no": row["member_no"]}, {"member_no": command.member_no}))
        rows.append(after)
    return rows


WRITE_OFF = registry.register(ApprovalKind("order.write_off", "挂单核销", Rule(APPROVE), _write_off_approved))
MAKE_UP = registry.register(ApprovalKind("order.make_up", "补单", Rule(APPROVE), _make_up_approved,
                                         on_closed=_make_up_closed))

EVENT_HANDLERS: dict[str, list[Handler]] = {
    FuellingCompleted.TYPE: [order_fuelling],
    LEGACY_FUELING_COMPLETED: [order_fuelling],
    PaymentCaptured.TYPE: [payment_captured],
    PaymentRefunded.TYPE: [payment_refunded],
}
COMMAND_HANDLERS: dict[type, Handler] = {
    LockOrder: lock_order, UnlockOrder: unlock_order, HoldOrder: hold_order, ReleaseOrder: release_order,
    RequestWriteOff: request_write_off, CreateOrder: create_order, EditOrder: edit_order,
    AttachMember: attach_member,
}
