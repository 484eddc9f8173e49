"""Pure rules of the shifts context: the commands it takes and what makes them valid (no I/O).

A shift counts two things (docs/shifts.md): **sales**, the orders whose fuelling arrived while it was open
(by fuelling time), and **takings**, the payments taken while it was open (by payment time). The handover
compares each nozzle's totalizer movement with its sold volume, and the counted cash with the cash taken.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from decimal import Decimal

#: notes and coins a cashier counts, in fen: 100, 50, 20, 10, 5, 1 元; 5, 1 角
DENOMINATIONS_FEN = (10000, 5000, 2000, 1000, 500, 100, 50, 10)
DEFAULT_CASH_TOLERANCE_FEN = 100     # over/short beyond 1 元 needs an explanation (a setting: docs/shifts.md)


class ShiftRuleError(ValueError):
    """A command that breaks a rule (422); its message says what to do (Chinese first, then English)."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class ShiftConflict(ShiftRuleError):
    """A command the shift's state refuses (409): one already open, or this one already closed."""


class UnpaidOrders(ShiftConflict):
    """The shift has orders not paid in full; a manager may close it anyway, with a reason."""

    def __init__(self, order_nos: tuple[str, ...]) -> None:
        super().__init__(f"本班还有未付订单 {', '.join(order_nos)}，请收款后再交班，或由站长填写原因强制交班 "
                         f"(unpaid orders {', '.join(order_nos)}: take payment first, or a station manager closes "
                         "with a reason)")
        self.order_nos = order_nos


class ShiftNotFound(LookupError):
    """No such shift at this station (404)."""


@dataclass(frozen=True, slots=True)
class NozzleKey:
    pump: str
    fuelling_point: int
    nozzle: int


@dataclass(frozen=True, slots=True)
class Reading:
    """A nozzle's totalizer, in litres."""

    nozzle: NozzleKey
    litres: Decimal


@dataclass(frozen=True, slots=True)
class OpenShift:
    station: str
    by: str                                  # the cashier opening it is the person in charge
    at: datetime
    hand_readings: tuple[Reading, ...] = ()  # start readings entered by hand; they win over the pump's
    live_readings: tuple[Reading, ...] = ()  # the pumps' totalizers now: a nozzle no fuelling has named yet


@dataclass(frozen=True, slots=True)
class CloseShift:
    station: str
    shift_no: str
    by: str
    at: datetime
    end_readings: tuple[Reading, ...]
    cash_count: tuple[tuple[int, int], ...]  # (denomination in fen, how many)
    explanation: str = ""                    # of an over/short beyond the tolerance
    override_reason: str = ""                # a manager closes with unpaid orders (the route checks shift:override)
    tolerance_fen: int = DEFAULT_CASH_TOLERANCE_FEN


def definition_at(definitions: list[tuple[str, time, time]], at: time) -> str | None:
    """The name of the shift definition (name, starts, ends) whose hours hold ``at``; one may run past midnight."""
    for name, starts, ends in definitions:
        inside = starts <= at < ends if starts < ends else at >= starts or at < ends
        if inside:
            return name
    return None


def counted_fen(cash_count: tuple[tuple[int, int], ...]) -> int:
    """The total of a cash count; a denomination that does not exist or a negative count is refused."""
    total = 0
    for denomination, pieces in cash_count:
        if denomination not in DENOMINATIONS_FEN:
            raise ShiftRuleError(f"没有面额 {denomination} 分，可用面额：{DENOMINATIONS_FEN} "
                                 f"(no denomination of {denomination} fen; use one of {DENOMINATIONS_FEN})",
                                 "cash_count")
        if pieces < 0:
            raise ShiftRuleError("张数不能为负 (a count cannot be negative)", "cash_count")
        total += denomination * pieces
    return total


@dataclass(frozen=True, slots=True)
class CashCheck:
    expected_fen: int        # cash taken less cash refunded in the shift
    counted_fen: int

    @property
    def over_short_fen(self) -> int:
        """Positive: more cash than taken (长款); negative: less (短款)."""
        return self.counted_fen - self.expected_fen

    def needs_explanation(self, tolerance_fen: int) -> bool:
        return abs(self.over_short_fen) > tolerance_fen


def check_cash(check: CashCheck, explanation: str, tolerance_fen: int) -> None:
    if check.needs_explanation(tolerance_fen) and not explanation.strip():
        raise ShiftRuleError(
            f"现金{'长款' if check.over_short_fen > 0 else '短款'} {abs(check.over_short_fen) / 100:.2f} 元，"
            f"超过 {tolerance_fen / 100:.2f} 元，请填写说明 (cash is {check.over_short_fen:+d} fen against the "
            f"takings, beyond the {tolerance_fen} fen tolerance: give an explanation)", "explanation")


def totalizer_difference(start_l: Decimal | None, end_l: Decimal | None, sold_l: Decimal) -> Decimal | None:
    """泵码差异: the totalizer's movement less the volume sold on the nozzle; None without both readings."""
    if start_l is None or end_l is None:
        return None
    return end_l - start_l - sold_l
