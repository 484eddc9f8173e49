"""Pure rules of the orders context (no I/O).

An order is what a customer owes for one fuelling, a make-up (补单) or a manual sale, and what has been paid
of it. Its life cycle (docs/orders.md)::

    pending_approval ─approved─▶ payable ─payments add up─▶ paid      (a refund makes it payable again)
                                  │   ▲
                             hold │   │ release
                                  ▼   │
                                  held ─write-off approved─▶ written_off

A payable order is in the hand of at most one POS terminal at a time (its lock, ``LOCK_TTL``). ``apply`` is the
one place that decides what a payment or a refund does to an order, ``check_action`` the one place that
decides which status an action may start from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

LOCK_TTL = timedelta(seconds=60)


class OrderRuleError(ValueError):
    """A request that breaks a rule; its message says what to do (Chinese first, then English)."""

    def __init__(self, message: str, field: str = "request") -> None:
        super().__init__(message)
        self.field = field


class OrderConflict(OrderRuleError):
    """The order is not in a state that allows this now (409; to a payment, a rule it breaks like any other)."""


class OrderNotFound(LookupError):
    """No such order at this station (404)."""


class Status(StrEnum):
    PENDING_APPROVAL = "pending_approval"
    PAYABLE = "payable"
    HELD = "held"
    PAID = "paid"
    WRITTEN_OFF = "written_off"
    REJECTED = "rejected"              # a make-up order whose approval was refused or withdrawn


STATUS_NAMES = {Status.PENDING_APPROVAL: "待审批", Status.PAYABLE: "待支付", Status.HELD: "挂单",
                Status.PAID: "已支付", Status.WRITTEN_OFF: "已核销", Status.REJECTED: "未通过"}


class OrderKind(StrEnum):
    FUELLING = "fuelling"
    MAKE_UP = "make_up"
    MANUAL = "manual"


KIND_NAMES = {OrderKind.FUELLING: "加油", OrderKind.MAKE_UP: "补单", OrderKind.MANUAL: "手工单"}


class HeldReason(StrEnum):
    DRIVE_OFF = "drive_off"
    POWER_LOSS = "power_loss"
    ABNORMAL = "abnormal"


HELD_NAMES = {HeldReason.DRIVE_OFF: "逃单", HeldReason.POWER_LOSS: "断电", HeldReason.ABNORMAL: "异常"}

# action → the statuses it may start from
STARTS_FROM: dict[str, frozenset[Status]] = {
    "lock": frozenset({Status.PAYABLE}),
    "hold": frozenset({Status.PAYABLE}),
    "release": frozenset({Status.HELD}),
    "write_off": frozenset({Status.HELD}),
    "approve_make_up": frozenset({Status.PENDING_APPROVAL}),
    "reject_make_up": frozenset({Status.PENDING_APPROVAL}),
    "pay": frozenset({Status.PAYABLE}),
    "member": frozenset({Status.PAYABLE, Status.HELD, Status.PENDING_APPROVAL}),   # before it is paid
}


def check_action(action: str, order_no: str, status: str) -> None:
    """Raise ``OrderConflict`` unless ``action`` may be done to an order in ``status``."""
    if Status(status) not in STARTS_FROM[action]:
        name = STATUS_NAMES[Status(status)]
        raise OrderConflict(f"订单 {order_no} 当前为「{name}」，不能执行此操作 "
                            f"(order {order_no} is {status}; {action} is not possible now)")


@dataclass(frozen=True, slots=True)
class Tag:
    """A free label with an optional amount, e.g. 滴滴(6.05) → Tag("滴滴", 605)."""

    name: str
    amount_fen: int | None = None

    def __post_init__(self) -> None:
        if not 1 <= len(self.name.strip()) <= 16:
            raise OrderRuleError("标签名称应为 1–16 个字符 (a tag name has 1–16 characters)", "tags")
        if self.amount_fen is not None and not 0 <= self.amount_fen <= 100_000_000:
            raise OrderRuleError("标签金额应在 0–1,000,000 元之间 (a tag amount is 0–100,000,000 fen)", "tags")


@dataclass(frozen=True, slots=True)
class Due:
    """An order as a payment sees it."""

    order_no: str
    amount_fen: int
    paid_fen: int
    locked_by: str | None = None       # the POS terminal that has the order in hand, until locked_until
    locked_until: datetime | None = None
    status: str = Status.PAYABLE

    @property
    def outstanding_fen(self) -> int:
        return self.amount_fen - self.paid_fen

    def takeable_by(self, terminal: str, now: datetime) -> bool:
        """Whether ``terminal`` may take payment for it: nobody else holds an unexpired lock on it."""
        return self.locked_by in (None, terminal) or self.locked_until is None or self.locked_until <= now


def apply(due: Due, delta_fen: int) -> int:
    """The order's paid amount after a payment (``delta_fen`` > 0) or a refund (< 0) of it."""
    if delta_fen > 0:
        check_action("pay", due.order_no, due.status)
    paid = due.paid_fen + delta_fen
    if paid > due.amount_fen:
        raise OrderRuleError(f"订单 {due.order_no} 尚欠 {due.outstanding_fen} 分，不能多收 "
                             f"(order {due.order_no} owes {due.outstanding_fen} fen; it cannot take more)")
    if paid < 0:
        raise OrderRuleError(f"订单 {due.order_no} 已收 {due.paid_fen} 分，退款不能超过已收 "
                             f"(order {due.order_no} has {due.paid_fen} fen paid; a refund cannot exceed it)")
    return paid


def check_lock(order_no: str, status: str, locked_by: str | None, locked_until: datetime | None,
               terminal: str, now: datetime) -> None:
    """Raise ``OrderConflict`` unless ``terminal`` may take (or renew) the order's lock at ``now``."""
    check_action("lock", order_no, status)
    if not Due(order_no, 0, 0, locked_by, locked_until).takeable_by(terminal, now):
        raise OrderConflict(f"订单正在 {locked_by} 收款，请稍后或在该终端继续 "
                            f"(order {order_no} is being paid at {locked_by}; wait or continue there)")


# --- commands --------------------------------------------------------------------------------------

def _terminal(terminal: str) -> None:
    if not 1 <= len(terminal) <= 64 or not terminal.isprintable():
        raise OrderRuleError("终端编号应为 1–64 个可见字符 (a terminal id has 1–64 printable characters)", "terminal")


@dataclass(frozen=True, slots=True)
class LockOrder:
    station: str
    order_no: str
    terminal: str
    now: datetime

    def __post_init__(self) -> None:
        _terminal(self.terminal)


@dataclass(frozen=True, slots=True)
class UnlockOrder:
    station: str
    order_no: str
    terminal: str

    def __post_init__(self) -> None:
        _terminal(self.terminal)


@dataclass(frozen=True, slots=True)
class HoldOrder:
    station: str
    order_no: str
    reason: HeldReason
    note: str = ""


@dataclass(frozen=True, slots=True)
class ReleaseOrder:
    station: str
    order_no: str


@dataclass(frozen=True, slots=True)
class RequestWriteOff:
    """Ask to write off a held order's outstanding amount; the approval of ``order.write_off`` does it."""

    station: str
    order_no: str
    reason: str

    def __post_init__(self) -> None:
        if not self.reason.strip():
            raise OrderRuleError("请填写核销原因 (say why the order is written off)", "reason")


@dataclass(frozen=True, slots=True)
class EditOrder:
    station: str
    order_no: str
    tags: tuple[Tag, ...] | None = None
    note: str | None = None

    def __post_init__(self) -> None:
        if self.tags is None and self.note is None:
            raise OrderRuleError("请提供 tags 或 note (send tags, a note or both)", "tags")
        if self.tags is not None and len({t.name for t in self.tags}) != len(self.tags):
            raise OrderRuleError("同名标签只能有一个 (each tag name once)", "tags")


MEMBER_NO = re.compile(r"^M[0-9]{8,12}$")
PLATE = re.compile(r"^[\u4e00-\u9fa5][A-Z][A-Z0-9]{5,6}$")


@dataclass(frozen=True, slots=True)
class AttachMember:
    """Sell the orders to a member (the POS's member panel): they earn the member's points when paid.
    ``plate``: the vehicle, when known."""

    station: str
    order_nos: tuple[str, ...]
    member_no: str
    plate: str | None = None

    def __post_init__(self) -> None:
        if not self.order_nos or len(set(self.order_nos)) != len(self.order_nos):
            raise OrderRuleError("请选择订单，每单一次 (give the orders, each once)", "order_nos")
        if not MEMBER_NO.match(self.member_no):
            raise OrderRuleError("会员号格式不对，如 M00012345 (a member number like M00012345)", "member_no")
        if self.plate is not None and not PLATE.match(self.plate):
            raise OrderRuleError("车牌格式不对，如 京A12345 (a plate like 京A12345)", "plate")


@dataclass(frozen=True, slots=True)
class CreateOrder:
    """A make-up order (补单: a sale the pumps did not report; approved before it is payable) or a manual
    sale (e.g. lubricant by amount; payable at once)."""

    station: str
    kind: OrderKind
    amount_fen: int
    reason: str
    nozzle: int | None = None
    grade: int | None = None
    volume_l: Decimal | None = None
    price_fen_per_l: int | None = None
    item: str | None = None
    tags: tuple[Tag, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.kind == OrderKind.FUELLING:
            raise OrderRuleError("加油订单由油机上报生成 (fuelling orders come from the pumps)", "kind")
        if not 0 < self.amount_fen <= 100_000_000:
            raise OrderRuleError("金额应在 0.01–1,000,000 元之间 (an amount is 1–100,000,000 fen)", "amount_fen")
        if not self.reason.strip():
            raise OrderRuleError("请填写原因 (say why the order is made)", "reason")
        if self.kind == OrderKind.MAKE_UP:
            if None in (self.nozzle, self.grade, self.volume_l, self.price_fen_per_l):
                raise OrderRuleError("补单需填写油枪、油品、升数与单价 (a make-up order needs nozzle, grade, "
                                     "volume_l and price_fen_per_l)", "nozzle")
            expected = round(Decimal(self.volume_l or 0) * (self.price_fen_per_l or 0))
            if abs(expected - self.amount_fen) > 1:
                raise OrderRuleError(f"金额与升数×单价不符，应约为 {expected} 分 (amount_fen does not match "
                                     f"volume_l × price_fen_per_l = {expected} fen)", "amount_fen")
        elif not (self.item or "").strip():
            raise OrderRuleError("手工单需填写商品，如 润滑油 (a manual sale names its goods in item)", "item")

    @property
    def first_status(self) -> Status:
        return Status.PENDING_APPROVAL if self.kind == OrderKind.MAKE_UP else Status.PAYABLE

