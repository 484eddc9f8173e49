"""Completed fuellings and the per-FP transaction buffer (Payable -> Locked -> Cleared).

Money is integer fen and volume integer centilitres (0.01 L); no floats touch either.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, replace
from datetime import datetime

from simulators.dispenser.states import BufferState, CommandResult, EndReason, PresetType


def amount_fen(volume_cl: int, price_fen_per_l: int) -> int:
    """Amount for a volume: volume (0.01 L) x price (fen/L), rounded half-up to the fen."""
    return (volume_cl * price_fen_per_l + 50) // 100


def volume_for_amount_cl(amount: int, price_fen_per_l: int) -> int:
    """Volume (0.01 L) bought by an amount at a price, rounded half-up to the centilitre."""
    return (amount * 200 + price_fen_per_l) // (2 * price_fen_per_l)


@dataclass(frozen=True, slots=True)
class Transaction:
    """One completed fuelling as the dispenser reports it (metered figures) plus the true volume."""

    number: int
    fuelling_point: int
    nozzle: int
    grade_id: int
    price_fen: int
    volume_cl: int
    amount_fen: int
    started_at: datetime
    ended_at: datetime
    volume_total_after_cl: int
    amount_total_after_fen: int
    end_reason: EndReason
    preset_type: PresetType = PresetType.NONE
    preset_value: int = 0
    delivered_l: float = 0.0
    buffer_state: BufferState = BufferState.PAYABLE

    @property
    def volume_total_before_cl(self) -> int:
        return self.volume_total_after_cl - self.volume_cl

    @property
    def amount_total_before_fen(self) -> int:
        return self.amount_total_after_fen - self.amount_fen

    @property
    def unpaid(self) -> bool:
        return self.buffer_state is not BufferState.CLEARED


class TransactionBuffer:
    """The last ``size`` completed transactions of one fuelling point, oldest first.

    When full, a new transaction pushes out the oldest cleared one (the oldest of all if
    none is cleared: the dispenser guards against that with its unpaid limit).
    """

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"buffer size must be >= 1, got {size}")
        self._size = size
        self._items: deque[Transaction] = deque()

    @property
    def transactions(self) -> tuple[Transaction, ...]:
        return tuple(self._items)

    @property
    def latest(self) -> Transaction | None:
        return self._items[-1] if self._items else None

    @property
    def unpaid_count(self) -> int:
        return sum(1 for t in self._items if t.unpaid)

    def add(self, transaction: Transaction) -> None:
        if len(self._items) >= self._size:
            cleared = [t for t in self._items if not t.unpaid]
            self._items.remove(cleared[0] if cleared else self._items[0])
        self._items.append(transaction)

    def lock(self, number: int = 0) -> CommandResult:
        """POS starts working on a payable transaction (0 = the latest payable)."""
        return self._move(number, frozenset({BufferState.PAYABLE}), BufferState.LOCKED)

    def unlock(self, number: int = 0) -> CommandResult:
        """POS gives a locked transaction back unpaid (0 = the latest locked)."""
        return self._move(number, frozenset({BufferState.LOCKED}), BufferState.PAYABLE)

    def clear(self, number: int = 0) -> CommandResult:
        """Mark a payable or locked transaction paid (0 = the latest unpaid)."""
        return self._move(number, frozenset({BufferState.PAYABLE, BufferState.LOCKED}), BufferState.CLEARED)

    def _move(self, number: int, allowed: frozenset[BufferState], to: BufferState) -> CommandResult:
        if number < 0:
            return CommandResult.BAD_ARGUMENT
        if number == 0:
            candidates = [t for t in self._items if t.buffer_state in allowed]
            if not candidates:
                return CommandResult.REFUSED
            target = candidates[-1]
        else:
            found = [t for t in self._items if t.number == number]
            if not found:
                return CommandResult.BAD_ARGUMENT
            target = found[0]
            if target.buffer_state not in allowed:
                return CommandResult.REFUSED
        index = self._items.index(target)
        self._items[index] = replace(target, buffer_state=to)
        return CommandResult.OK
