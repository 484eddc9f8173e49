"""Pure rules of the shifts context: the commands it takes and what makes them valid (no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


class ShiftRuleError(ValueError):
    """A command that breaks a rule; its message says what to do (Chinese first, then English)."""


@dataclass(frozen=True, slots=True)
class OpenShift:
    station: str
    by: str
    at: datetime
