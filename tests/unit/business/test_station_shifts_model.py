"""The pure rules of head office's shift reconciliation: what is compared and which verdict follows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from business_services.station_shifts.model import (
    DEFAULT_MISSING_CLOSE_AFTER,
    Evaluation,
    Gap,
    ReconcileError,
    ReconcileShift,
    Verdict,
    compare,
    evaluate,
    is_new_difference,
    reported_takings,
)

OPENED = datetime(2026, 12, 4, 0, tzinfo=UTC)


def verdict_at(hours: float, *, closed: bool = False, reported: dict[str, int] | None = None,
               received: dict[str, int] | None = None) -> Evaluation:
    return evaluate(opened_at=OPENED, closed=closed, reported=reported, received=received or {},
                    now=OPENED + timedelta(hours=hours), missing_close_after=DEFAULT_MISSING_CLOSE_AFTER)


def test_reported_takings_are_captured_less_refunded_per_method() -> None:
    takings = [{"method": "cash", "captured_fen": 5000, "refunded_fen": 700},
               {"method": "wechat", "captured_fen": 1200, "refunded_fen": 0}]
    assert reported_takings(takings) == {"cash": 4300, "wechat": 1200}


def test_compare_names_each_method_that_differs_and_counts_absence_as_zero() -> None:
    gaps = compare({"cash": 4300, "wechat": 1200, "alipay": 0}, {"cash": 4300, "wechat": 800, "ecny": 50})
    assert gaps == (Gap("ecny", 0, 50), Gap("wechat", 1200, 800))
    assert [g.difference_fen for g in gaps] == [50, -400]
    assert compare({"cash": 1, "alipay": 0}, {"cash": 1}) == ()


def test_an_open_shift_awaits_its_close_until_the_threshold() -> None:
    assert verdict_at(26).verdict is Verdict.AWAITING_CLOSE
    assert verdict_at(26.01).verdict is Verdict.MISSING_CLOSE
    assert evaluate(opened_at=OPENED, closed=False, reported=None, received={"cash": 5},
                    now=OPENED + timedelta(hours=3), missing_close_after=timedelta(hours=2)).verdict \
        is Verdict.MISSING_CLOSE


def test_a_closed_shift_is_matched_or_shows_its_gaps() -> None:
    assert verdict_at(8, closed=True, reported={"cash": 100}, received={"cash": 100}) == Evaluation(Verdict.MATCHED)
    assert verdict_at(80, closed=True, reported={"cash": 100}, received={"cash": 100}).verdict is Verdict.MATCHED
    off = verdict_at(8, closed=True, reported={"cash": 100}, received={"cash": 60})
    assert off == Evaluation(Verdict.DIFFERENCE, (Gap("cash", 100, 60),))
    assert off.gaps_json() == [{"method": "cash", "reported_fen": 100, "received_fen": 60, "difference_fen": -40}]
    assert Evaluation.from_record("difference", off.gaps_json()) == off


def test_a_difference_is_audited_when_it_appears_or_changes_only() -> None:
    first = Evaluation(Verdict.DIFFERENCE, (Gap("cash", 100, 60),))
    assert is_new_difference(Evaluation(Verdict.UNCHECKED), first)
    assert not is_new_difference(first, first)
    assert is_new_difference(first, Evaluation(Verdict.DIFFERENCE, (Gap("cash", 100, 80),)))
    assert not is_new_difference(first, Evaluation(Verdict.MATCHED))


def test_a_reconcile_needs_an_aware_time_and_a_positive_threshold() -> None:
    with pytest.raises(ReconcileError, match="时区"):
        ReconcileShift("st-01", "st-01-20261204-S00001", datetime(2026, 12, 4))    # noqa: DTZ001 - the bad value
    with pytest.raises(ReconcileError, match="大于 0"):
        ReconcileShift("st-01", "st-01-20261204-S00001", OPENED, timedelta(0))
