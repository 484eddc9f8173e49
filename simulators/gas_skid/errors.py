"""Why the gas skid refuses a command: one exception type carrying a reason the server maps to a status."""

from __future__ import annotations

from enum import Enum


class Refusal(Enum):
    """Reasons a PLC refuses a command or a setpoint write (see ``server.REFUSAL_STATUS``)."""

    INVALID_STATE = "invalid_state"  # in fault, already filling, price change mid-fill
    OUT_OF_RANGE = "out_of_range"  # argument or setpoint outside its range
    RESOURCE_LOW = "resource_low"  # bank pressure or LNG tank level too low to start
    NOT_WRITABLE = "not_writable"  # a measured value
    TYPE_MISMATCH = "type_mismatch"  # a setpoint written with another OPC UA type than its own
    BAD_ARGUMENT = "bad_argument"  # a method argument of the wrong type
    ARGUMENTS_MISSING = "arguments_missing"  # fewer method arguments than declared
    TOO_MANY_ARGUMENTS = "too_many_arguments"  # more method arguments than declared


class GasSkidError(Exception):
    """Base of the gas skid simulator's errors."""


class CommandRefused(GasSkidError):
    """A command or write the skid's PLC would refuse; ``reason`` selects the OPC UA status code."""

    def __init__(self, reason: Refusal, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
