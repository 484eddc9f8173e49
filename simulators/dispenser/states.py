"""Codes shared by the dispenser model and its register map (values are on the wire, keep them)."""

from __future__ import annotations

from enum import IntEnum


class FpState(IntEnum):
    """IFSF fuelling-point states (domain.md §1.5.1)."""

    INOPERATIVE = 1
    CLOSED = 2
    IDLE = 3
    CALLING = 4
    AUTHORISED = 5
    STARTED = 6
    SUSPENDED_STARTED = 7
    FUELLING = 8
    SUSPENDED_FUELLING = 9


class BufferState(IntEnum):
    """IFSF transaction-buffer states of a completed transaction."""

    CLEARED = 1
    PAYABLE = 2
    LOCKED = 3


class PresetType(IntEnum):
    """What an authorisation limits: nothing (full tank), the volume or the amount."""

    NONE = 0
    VOLUME = 1
    AMOUNT = 2


class Command(IntEnum):
    """Command codes written to register B+90."""

    AUTHORISE = 1
    STOP = 2
    SUSPEND = 3
    RESUME = 4
    CLEAR = 5
    LOCK = 6
    OPEN = 7
    CLOSE = 8
    UNLOCK = 9


class CommandResult(IntEnum):
    """Outcome of a command or a physical input (register B+96)."""

    OK = 0
    REFUSED = 1
    BAD_ARGUMENT = 2


class EndReason(IntEnum):
    """Why a fuelling ended (register B+39 of the transaction record)."""

    OPEN = 0
    NOZZLE_HUNG_UP = 1
    PRESET_REACHED = 2
    STOPPED = 3
    POWER_LOST = 4
    FP_ERROR = 5


#: States in which a transaction is open (the FP has a current delivery).
OPEN_TRANSACTION_STATES = frozenset(
    {FpState.STARTED, FpState.SUSPENDED_STARTED, FpState.FUELLING, FpState.SUSPENDED_FUELLING}
)
