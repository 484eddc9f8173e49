"""Handlers of the payments context, each ``(command, uow) -> result`` on the station server's bus.

Taking a payment is three steps, so that no transaction is held open while a provider answers
(``service.py`` runs them): ``OpenPayments`` writes the payments ``pending`` with the orders locked (their
allocations now reserve what they take); the provider is asked outside any transaction; ``SettlePayment``
records its answer. A success raises ``payment.captured`` for the orders context (same unit of work: an
over-payment rolls it all back) and emits it to the outbox for head office. Refunds: ``RequestRefund``
reserves the amount (or asks for approval above the limit), ``SettleRefund`` records the provider's answer.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from business_services.approvals import handlers as approvals
from business_services.approvals import registry as approval_kinds
from business_services.approvals import repository as approval_store
from business_services.approvals.model import CANCELLED, EXPIRED, REJECTED, ApprovalKind, ApprovalRequest, Rule
from business_services.approvals.model import state as approval_state
from business_services.audit.model import AuditEntry
from business_services.messagebus import Handler
from business_services.numbers import Kind, next_number
from business_services.orders import views as orders
from business_services.payments import repository
from business_services.payments.model import (
    NO_SHIFT,
    REFUND_APPROVAL_ABOVE_FEN,
    PaymentNotFound,
    PaymentRuleError,
    PaymentState,
    RefundState,
    TakePayment,
    allocate,
    needs_approval,
    refund_allocations,
    refundable,
)
from business_services.payments.providers import ChargeResult, ChargeState, RefundResult
from business_services.shifts import views as shifts
from business_services.stations import views as stations
from business_services.unit_of_work import UnitOfWork
from telemetry.contracts.events.payments import Allocation, Method, PaymentCaptured, PaymentRefunded

SOURCE = "business/payments"
REFUND_KIND = "payment.refund"


def approval_limit_fen() -> int:
    """Refunds above this wait for a manager's approval (setting ``FORECOURT_REFUND_APPROVAL_ABOVE_FEN``)."""
    return int(os.environ.get("FORECOURT_REFUND_APPROVAL_ABOVE_FEN", REFUND_APPROVAL_ABOVE_FEN))


@dataclass(frozen=True, slots=True)
class SettlePayment:
    payment_no: str
    result: ChargeResult
    cancelled: bool = False          # the POS gave up: a FAILED answer means cancelled, not failed


@dataclass(frozen=True, slots=True)
class RequestRefund:
    station: str
    payment_no: str
    amount_fen: int
    reason: str
    by: str
    at: datetime


@dataclass(frozen=True, slots=True)
class SettleRefund:
    refund_no: str
    result: RefundResult
    by: str


async def open_payments(command: TakePayment, uow: UnitOfWork) -> list[str]:
    """The new payments' numbers, one per tender, written pending in the shift open now."""
    shift_no = await shifts.open_shift(uow.conn, command.station, lock=True)
    if shift_no is None:
        raise PaymentRuleError(NO_SHIFT)
    order_nos = list(command.order_nos)
    dues = await orders.dues(uow.conn, command.station, order_nos)
    # allocated as if no payment of these orders were in progress (an online one waiting: rare), which the
    # first payment's statement checks, with the orders locked; allocated again, less what those hold, if not
    shares = allocate(order_nos, dues, {}, command.tenders, command.terminal, command.at)
    first = shares[0]
    number = await repository.add_unless_reserved(uow.conn, order_nos, command, shift_no, first.tender.method,
                                                  first.tender.amount_fen, first.tender.reference, first.tender.note,
                                                  first.allocations)
    if number is None:
        shares = allocate(order_nos, dues, await repository.reserved(uow.conn, order_nos), command.tenders,
                          command.terminal, command.at)
        numbers = []
    else:
        numbers, shares = [number], shares[1:]
    for share in shares:    # each under the day's next payment number (numbers.py)
        numbers.append(await repository.add(uow.conn, command, shift_no, share.tender.method, share.tender.amount_fen,
                                            share.tender.reference, share.tender.note, share.allocations))
    return numbers


async def settle_payment(command: SettlePayment, uow: UnitOfWork) -> repository.PaymentRow | None:
    """Record the provider's answer; the payment when this call settled it (None: still pending, or settled
    before: nothing changed)."""
    result = command.result
    if result.state is ChargeState.PENDING:
        await repository.show_pending(uow.conn, command.payment_no, result)
        return None
    state = (PaymentState.SUCCEEDED if result.state is ChargeState.SUCCEEDED
             else PaymentState.CANCELLED if command.cancelled else PaymentState.FAILED)
    row = await repository.settle(uow.conn, command.payment_no, state, result, datetime.now(UTC))
    if row is None:
        return None
    if state is PaymentState.SUCCEEDED:
        captured = PaymentCaptured(
            payment_no=row.payment_no, station=row.station, shift_no=row.shift_no, terminal=row.terminal,
            cashier=row.cashier, method=Method(row.method), amount_fen=row.amount_fen, provider_ref=row.provider_ref,
            allocations=tuple(Allocation(order_no=o, amount_fen=a) for o, a, _ in row.allocations),
            captured_at=row.settled_at or datetime.now(UTC),
            member_no=result.member_no, card_no=result.card_no, points_spent=result.points_spent,
            auth_no=result.auth_no, offline=result.offline)
        event = captured.envelope(source=SOURCE, event_id=captured.event_id())
        uow.raise_event(event)
        uow.emit(await stations.event_topic_for(uow.conn, row.station, PaymentCaptured.TYPE), event)
    return row


def _summary(payment_no: str, amount_fen: int, reason: str) -> dict[str, Any]:
    return {"payment_no": payment_no, "amount_fen": amount_fen, "reason": reason}


async def request_refund(command: RequestRefund, uow: UnitOfWork) -> str:
    """The refund's number; it is ``pending`` (to be carried out by the provider) or awaiting approval."""
    if command.amount_fen <= 0:
        raise PaymentRuleError("退款金额必须大于 0 (a refund must be above 0)", 422)
    if not command.reason.strip():
        raise PaymentRuleError("请填写退款原因 (give the reason for the refund)", 422)
    payment = await repository.get(uow.conn, command.station, command.payment_no, lock=True)
    if payment is None:
        raise PaymentNotFound(f"没有收款 {command.payment_no} (no payment {command.payment_no})")
    left = refundable(payment.amount_fen, payment.refunded_fen, payment.state)
    if command.amount_fen > left:
        raise PaymentRuleError(f"退款不能超过可退金额 {left} 分 (a refund cannot exceed what was captured less "
                               f"what was refunded: {left} fen)")
    if await shifts.open_shift(uow.conn, command.station, lock=True) is None:
        raise PaymentRuleError(NO_SHIFT)
    refund_no = await next_number(uow.conn, command.station, Kind.REFUND, command.at)
    approval = needs_approval(command.amount_fen, approval_limit_fen())
    back = [] if approval else refund_allocations(payment.allocations, command.amount_fen)
    approval_id = None
    if approval:
        request = await approvals.request_approval(
            uow, REFUND_KIND, command.station, f"退款 {command.amount_fen / 100:.2f} 元 ({command.payment_no})",
            {"refund_no": refund_no, **_summary(command.payment_no, command.amount_fen, command.reason)})
        approval_id = str(request.id)
    else:
        await repository.reserve_refund(uow.conn, payment.payment_no, back)
    state = RefundState.AWAITING_APPROVAL if approval else RefundState.PENDING
    await repository.add_refund(uow.conn, repository.RefundRow(
        refund_no, payment.payment_no, command.station, command.amount_fen, state, command.reason.strip(),
        tuple(back), approval_id, command.by, None, None, "", command.at, None))
    await uow.audit(AuditEntry("payment.refund.request", refund_no, command.station, None,
                               {**_summary(payment.payment_no, command.amount_fen, command.reason),
                                "state": state.value, "approval_id": approval_id}))
    return refund_no


async def approved(request: ApprovalRequest, uow: UnitOfWork) -> None:
    """The manager approved: reserve the amount now (refused if it no longer fits); the refund is then
    carried out by the provider like any pending one (``service.carry_out_refunds``)."""
    refund = await repository.get_refund(uow.conn, str(request.payload["refund_no"]), lock=True)
    if refund is None or refund.state != RefundState.AWAITING_APPROVAL:
        return
    payment = await repository.get(uow.conn, refund.station, refund.payment_no, lock=True)
    if payment is None or refund.amount_fen > refundable(payment.amount_fen, payment.refunded_fen, payment.state):
        raise PaymentRuleError("退款已超过可退金额，不能批准 (the refund no longer fits what is left to refund)")
    back = refund_allocations(payment.allocations, refund.amount_fen)
    await repository.reserve_refund(uow.conn, payment.payment_no, back)
    await repository.approve_refund(uow.conn, refund.refund_no, back)


approval_kinds.register(ApprovalKind(REFUND_KIND, "退款", Rule("approval:decide"), approved))   # 区域经理, 财务


async def close_refused(conn: Any, payment_no: str, now: datetime) -> int:
    """Mark ``rejected`` the payment's refunds whose approval was rejected, cancelled or expired (they never
    reserved anything, so nothing is given back); how many."""
    closed = 0
    for refund in await repository.refunds_of(conn, payment_no):
        if refund.state != RefundState.AWAITING_APPROVAL or refund.approval_id is None:
            continue
        request = await approval_store.get(conn, uuid.UUID(refund.approval_id))
        if request is not None and approval_state(request, now) in (REJECTED, EXPIRED, CANCELLED):
            closed += await repository.reject_refund(conn, refund.refund_no, now)
    return closed


async def settle_refund(command: SettleRefund, uow: UnitOfWork) -> bool:
    """Record the provider's answer to a pending refund; a success raises and emits ``payment.refunded``."""
    if command.result.state is ChargeState.PENDING:
        return False
    ok = command.result.state is ChargeState.SUCCEEDED
    state = RefundState.SUCCEEDED if ok else RefundState.FAILED
    refund = await repository.settle_refund(uow.conn, command.refund_no, state, command.result.provider_ref,
                                            command.result.message, command.by, datetime.now(UTC))
    if refund is None:
        return False
    payment = await repository.get(uow.conn, refund.station, refund.payment_no)
    if payment is None:
        raise PaymentNotFound(f"没有收款 {refund.payment_no} (no payment {refund.payment_no})")
    await uow.audit(AuditEntry("payment.refund.execute", refund.refund_no, refund.station, None,
                               {**_summary(refund.payment_no, refund.amount_fen, refund.reason),
                                "state": state.value, "message": command.result.message}))
    if not ok:
        await repository.release_refund(uow.conn, refund.payment_no, refund.allocations)
        return True
    shift_no = await shifts.open_shift(uow.conn, refund.station) or payment.shift_no
    refunded = PaymentRefunded(
        refund_no=refund.refund_no, payment_no=refund.payment_no, station=refund.station, shift_no=shift_no,
        method=Method(payment.method), amount_fen=refund.amount_fen, reason=refund.reason,
        allocations=tuple(Allocation(order_no=o, amount_fen=f) for o, f in refund.allocations),
        refunded_by=command.by, refunded_at=refund.settled_at or datetime.now(UTC),
        member_no=command.result.member_no, card_no=command.result.card_no)
    event = refunded.envelope(source=SOURCE, event_id=refunded.event_id())
    uow.raise_event(event)
    uow.emit(await stations.event_topic_for(uow.conn, refund.station, PaymentRefunded.TYPE), event)
    return True


EVENT_HANDLERS: dict[str, list[Handler]] = {}
COMMAND_HANDLERS: dict[type, Handler] = {TakePayment: open_payments, SettlePayment: settle_payment,
                                         RequestRefund: request_refund, SettleRefund: settle_refund}
