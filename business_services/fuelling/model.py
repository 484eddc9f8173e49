"""Pure rules of the fuelling context: the commands it takes and what makes them valid (no I/O).

What a fuelling or a gap *is* lives in the wire contract (``telemetry/contracts/events/fuelling.py``:
``FuellingCompleted``, ``FuellingGap``, with their checks); this module holds what only the business
plane decides. A gap is fuel that left a nozzle without a transaction the platform could read; the
station's manager settles it (e.g. after matching it with the POS's sales of that period), and a settled
gap is never reopened or settled twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


class InvalidCommand(ValueError):
    """A command that breaks a rule; its message says what to do (Chinese first, then English)."""


@dataclass(frozen=True, slots=True)
class SettleGap:
    """Close an open fuelling gap: who settles it, how (the note) and when."""

    gap_id: int
    by: str
    note: str
    at: datetime

    def __post_init__(self) -> None:
        if not self.by.strip() or not self.note.strip():
            raise InvalidCommand("结清缺口须填写结清人和说明 "
                                 "(settling a gap needs who settles it and a note saying how)")
