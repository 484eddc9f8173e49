"""Pure rules of head office's shift reconciliation: what is compared and which verdict follows.

A closed shift is compared method by method: the takings the station reported at close (captured less
refunded) against the net of the payments and refunds head office received for that shift. No I/O here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

#: an open shift with no ``shift.closed`` after this long is flagged (a setting: docs/reconciliation.md)
DEFAULT_MISSING_CLOSE_AFTER = timedelta(hours=26)


class Verdict(StrEnum):
    UNCHECKED = "unchecked"              # recorded, not yet looked at by the pull
    AWAITING_CLOSE = "awaiting_close"    # open at the station, within the time a shift may take
    MISSING_CLOSE = "missing_close"      # open longer than the threshold and no shift.closed arrived
    MATCHED = "matched"                  # reported takings equal what head office received, per method
    DIFFERENCE = "difference"            # they differ (gaps say where and by how much)
    LATE_DOCUMENTS = "late_documents"    # documents arrived after a match: to be checked again


class ReconcileError(ValueError):
    """A reconciliation request that cannot be carried out; the message says what to do, Chinese first."""


class ShiftCopyNotFound(LookupError):
    """Head office has no copy of this shift (no shift.opened or shift.closed arrived)."""


@dataclass(frozen=True, slots=True)
class ReconcileShift:
    """Evaluate one shift now (the API's action; the periodic pull runs it for every open question)."""

    station: str
    shift_no: str
    now: datetime
    missing_close_after: timedelta = DEFAULT_MISSING_CLOSE_AFTER

    def __post_init__(self) -> None:
        if self.now.tzinfo is None:
            raise ReconcileError("核对时间必须带时区 (now must be an aware UTC time)")
        if self.missing_close_after <= timedelta(0):
            raise ReconcileError("未交班告警时长必须大于 0 (the missing-close threshold must be positive)")


@dataclass(frozen=True, slots=True, order=True)
class Gap:
    """One method whose reported takings and received net differ."""

    method: str
    reported_fen: int
    received_fen: int

    @property
    def difference_fen(self) -> int:
        """Received less reported: negative when head office is missing money the station reported."""
        return self.received_fen - self.reported_fen

    def as_json(self) -> dict[str, Any]:
        return {"method": self.method, "reported_fen": self.reported_fen, "received_fen": self.received_fen,
                "difference_fen": self.difference_fen}


@dataclass(frozen=True, slots=True)
class Evaluation:
    verdict: Verdict
    gaps: tuple[Gap, ...] = ()

    def gaps_json(self) -> list[dict[str, Any]]:
        return [g.as_json() for g in self.gaps]

    @classmethod
    def from_record(cls, status: str, gaps: Iterable[Mapping[str, Any]]) -> Evaluation:
        return cls(Verdict(status), tuple(Gap(g["method"], g["reported_fen"], g["received_fen"]) for g in gaps))


def reported_takings(takings: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """The station's takings at close, net per method (captured less refunded)."""
    net: dict[str, int] = {}
    for line in takings:
        net[line["method"]] = net.get(line["method"], 0) + line["captured_fen"] - line["refunded_fen"]
    return net


def compare(reported: Mapping[str, int], received: Mapping[str, int]) -> tuple[Gap, ...]:
    """The methods that differ; a method absent on one side counts as 0 there."""
    methods = sorted(set(reported) | set(received))
    return tuple(Gap(m, reported.get(m, 0), received.get(m, 0)) for m in methods
                 if reported.get(m, 0) != received.get(m, 0))


def evaluate(*, opened_at: datetime, closed: bool, reported: Mapping[str, int] | None,
             received: Mapping[str, int], now: datetime, missing_close_after: timedelta) -> Evaluation:
    """The verdict on one shift now. An open shift waits for its close (until the threshold); a closed one
    is matched or shows its gaps."""
    if not closed or reported is None:
        late = now - opened_at > missing_close_after
        return Evaluation(Verdict.MISSING_CLOSE if late else Verdict.AWAITING_CLOSE)
    gaps = compare(reported, received)
    return Evaluation(Verdict.DIFFERENCE, gaps) if gaps else Evaluation(Verdict.MATCHED)


def changed(before: Evaluation, after: Evaluation) -> bool:
    """Whether the history gets a line: the verdict or its gaps changed."""
    return before != after


def is_new_difference(before: Evaluation, after: Evaluation) -> bool:
    """A difference is audited once per change: when it appears, or its gaps change."""
    return after.verdict is Verdict.DIFFERENCE and before != after

