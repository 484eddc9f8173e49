"""Pure rules of the orders context (no I/O).

An order is what a customer owes for one fuelling (or a manual sale) and what has been paid of it. It is
``payable`` until payments add up to its amount, then ``paid``; a refund makes it payable again for what
went back. ``apply`` is the one place that decides what a payment or a refund does to an order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


class OrderRuleError(ValueError):
    """A request that breaks a rule; its message says what to do (Chinese first, then English)."""


@dataclass(frozen=True, slots=True)
class Due:
    """An order as a payment sees it."""

    order_no: str
    amount_fen: int
    paid_fen: int
    locked_by: str | None = None       # the POS terminal that has the order in hand, until locked_until
    locked_until: datetime | None = None

    @property
    def outstanding_fen(self) -> int:
        return self.amount_fen - self.paid_fen

    def takeable_by(self, terminal: str, now: datetime) -> bool:
        """Whether ``terminal`` may take payment for it: nobody else holds an unexpired lock on it."""
        return self.locked_by in (None, terminal) or self.locked_until is None or self.locked_until <= now


def apply(due: Due, delta_fen: int) -> int:
    """The order's paid amount after a payment (``delta_fen`` > 0) or a refund (< 0) of it."""
    paid = due.paid_fen + delta_fen
    if paid > due.amount_fen:
        raise OrderRuleError(f"订单 {due.order_no} 尚欠 {due.outstanding_fen} 分，不能多收 "
                             f"(order {due.order_no} owes {due.outstanding_fen} fen; it cannot take more)")
    if paid < 0:
        raise OrderRuleError(f"订单 {due.order_no} 已收 {due.paid_fen} 分，退款不能超过已收 "
                             f"(order {due.order_no} has {due.paid_fen} fen paid; a refund cannot exceed it)")
    return paid
