"""Pure rules of the payments context (no I/O).

A payment is one tender (one method, one amount) for one or several orders. ``allocate`` is the one place
that decides how a request's tenders go to its orders: in the order given, each tender filling what the
orders still owe less what pending payments have reserved, so a split payment (one order, several tenders)
and a merged one (several orders, one tender) are the same rule. ``refund_allocations`` decides which
orders a refund goes back to; ``needs_approval`` when a refund waits for a manager.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from business_services.orders.model import Due
from telemetry.contracts.events.payments import Method

REFUND_APPROVAL_ABOVE_FEN = 20000      # 200 元; a setting (FORECOURT_REFUND_APPROVAL_ABOVE_FEN)
NO_SHIFT = "请先开班 (open a shift first)"


class PaymentState(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class RefundState(StrEnum):
    AWAITING_APPROVAL = "awaiting_approval"
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REJECTED = "rejected"


class PaymentRuleError(ValueError):
    """A request that breaks a rule; its message says what to do (Chinese first, then English). ``status``:
    409 when the state of things refuses it (the order is held, the shift is closed), 422 for bad input."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.message, self.status = message, status


class PaymentNotFound(LookupError):
    pass


@dataclass(frozen=True, slots=True)
class Tender:
    method: Method
    amount_fen: int
    auth_code: str | None = None       # the customer's payment code, scanned by the POS (online methods)
    reference: str | None = None       # the bank terminal's voucher number (bank card: required)
    note: str | None = None            # what it was (other: required, e.g. 滴滴代金券)
    card_no: str | None = None         # stored value: the card (required); points: the member's card
    member_no: str | None = None       # points: the member whose points pay; agreement: whose agreement pays
    auth_no: str | None = None         # fleet credit: the fleet authorisation (required, with card_no)


@dataclass(frozen=True, slots=True)
class TakePayment:
    station: str
    terminal: str
    cashier: str
    order_nos: tuple[str, ...]
    tenders: tuple[Tender, ...]
    at: datetime


@dataclass(frozen=True, slots=True)
class Share:
    """One tender and what it takes of each order, in the request's order."""

    tender: Tender
    allocations: tuple[tuple[str, int], ...] = field(default=())


def check_tender(tender: Tender) -> None:
    if tender.amount_fen <= 0:
        raise PaymentRuleError("收款金额必须大于 0 (a tender's amount must be above 0)", 422)
    if tender.method is Method.BANK_CARD and not (tender.reference or "").strip():
        raise PaymentRuleError("银行卡收款请输入刷卡终端的参考号/凭证号 (key in the bank terminal's reference)", 422)
    if tender.method is Method.STORED_VALUE and not tender.card_no:
        raise PaymentRuleError("储值卡收款请刷卡或输入卡号 (give the stored-value card's number)", 422)
    if tender.method is Method.FLEET_CREDIT and not (tender.card_no and tender.auth_no):
        raise PaymentRuleError("车队挂账请先在 车队加油 授权 (give the fleet card and its authorisation)", 422)
    if tender.method is Method.POINTS and not tender.member_no:
        raise PaymentRuleError("积分支付请先查询会员 (look the member up first)", 422)
    if tender.method is Method.AGREEMENT and not tender.member_no:
        raise PaymentRuleError("免密支付请先查询会员 (look the member up first: the member's agreement pays)", 422)
    if tender.method is Method.OTHER and not (tender.note or "").strip():
        raise PaymentRuleError("其他方式收款请写明方式，如 滴滴代金券 (say what it was in the note)", 422)


def allocate(order_nos: Sequence[str], dues: Mapping[str, Due], reserved: Mapping[str, int],
             tenders: Sequence[Tender], terminal: str, now: datetime) -> list[Share]:
    """The tenders' allocations; refused when an order is missing or held by another terminal, when the
    tenders exceed what the orders still owe (less pending reservations), or when one would take nothing."""
    if not order_nos or not tenders:
        raise PaymentRuleError("请选择订单并填写收款方式 (give the orders and at least one tender)", 422)
    if len(set(order_nos)) != len(order_nos):
        raise PaymentRuleError("同一订单只能出现一次 (an order appears once)", 422)
    for tender in tenders:
        check_tender(tender)
    open_fen: dict[str, int] = {}
    for order_no in order_nos:
        due = dues.get(order_no)
        if due is None:
            raise PaymentRuleError(f"本站没有订单 {order_no} (no order {order_no} at this station)", 404)
        if not due.takeable_by(terminal, now):
            raise PaymentRuleError(f"订单 {order_no} 正由收银台 {due.locked_by} 处理 "
                                   f"(order {order_no} is held by terminal {due.locked_by})")
        open_fen[order_no] = due.outstanding_fen - reserved.get(order_no, 0)
    total, owed = sum(t.amount_fen for t in tenders), sum(open_fen.values())
    if total > owed:
        raise PaymentRuleError(f"收款 {total} 分超过订单尚欠的 {owed} 分 (the tenders, {total} fen, exceed the "
                               f"{owed} fen the orders still owe, less payments in progress)")
    shares, queue = [], [(order_no, fen) for order_no, fen in open_fen.items() if fen > 0]
    for tender in tenders:
        left, taken = tender.amount_fen, []
        while left:
            order_no, fen = queue.pop(0)
            take = min(left, fen)
            taken.append((order_no, take))
            left -= take
            if fen > take:
                queue.insert(0, (order_no, fen - take))
        shares.append(Share(tender, tuple(taken)))
    return shares


def refund_allocations(allocations: Sequence[tuple[str, int, int]], amount_fen: int) -> list[tuple[str, int]]:
    """Which orders a refund of ``amount_fen`` goes back to: ``allocations`` are (order_no, amount, refunded)
    in the payment's order; the last orders first (the first order is usually the one kept)."""
    left, back = amount_fen, []
    for order_no, amount, refunded in reversed(allocations):
        take = min(left, amount - refunded)
        if take > 0:
            back.append((order_no, take))
            left -= take
    if left:
        raise PaymentRuleError(f"退款超过可退金额 {amount_fen - left} 分 (a refund cannot exceed what was "
                               f"captured less what was refunded: {amount_fen - left} fen)")
    return back


def refundable(amount_fen: int, refunded_fen: int, state: str) -> int:
    return amount_fen - refunded_fen if state == PaymentState.SUCCEEDED else 0


def needs_approval(amount_fen: int, limit_fen: int = REFUND_APPROVAL_ABOVE_FEN) -> bool:
    return amount_fen > limit_fen
