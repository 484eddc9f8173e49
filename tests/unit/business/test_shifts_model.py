"""The shifts context's pure rules: which definition a time falls in, the cash count, over/short, 泵码差异."""

from __future__ import annotations

from datetime import time
from decimal import Decimal

import pytest

from business_services.shifts.model import (
    CashCheck,
    ShiftRuleError,
    check_cash,
    counted_fen,
    definition_at,
    totalizer_difference,
)

DEFINITIONS = [("早班", time(6), time(14)), ("中班", time(14), time(22)), ("晚班", time(22), time(6))]


@pytest.mark.parametrize(("at", "name"), [(time(6), "早班"), (time(13, 59), "早班"), (time(14), "中班"),
                                          (time(22), "晚班"), (time(0, 30), "晚班"), (time(5, 59), "晚班")])
def test_a_shift_takes_its_definition_from_the_time_of_day(at: time, name: str) -> None:
    assert definition_at(DEFINITIONS, at) == name


def test_no_definition_outside_every_shift() -> None:
    assert definition_at(DEFINITIONS[:2], time(23)) is None


def test_a_cash_count_adds_up_its_denominations() -> None:
    assert counted_fen(((10000, 3), (5000, 1), (100, 2), (50, 1), (10, 3))) == 35280


@pytest.mark.parametrize("count", [((3000, 1),), ((100, -1),)])
def test_a_bad_denomination_or_count_is_refused(count: tuple[tuple[int, int], ...]) -> None:
    with pytest.raises(ShiftRuleError) as refused:
        counted_fen(count)
    assert refused.value.field == "cash_count"


def test_over_short_within_tolerance_needs_no_explanation() -> None:
    check = CashCheck(expected_fen=50000, counted_fen=49900)
    assert check.over_short_fen == -100
    check_cash(check, "", tolerance_fen=100)


def test_short_beyond_tolerance_needs_an_explanation() -> None:
    check = CashCheck(expected_fen=50000, counted_fen=49000)
    with pytest.raises(ShiftRuleError) as refused:
        check_cash(check, "  ", tolerance_fen=100)
    assert refused.value.field == "explanation" and "短款 10.00 元" in refused.value.message
    check_cash(check, "找零多给", tolerance_fen=100)


def test_the_totalizer_difference_is_movement_less_sales() -> None:
    assert totalizer_difference(Decimal("1000.00"), Decimal("1070.50"), Decimal("70.00")) == Decimal("0.50")
    assert totalizer_difference(None, Decimal("1070.50"), Decimal("70.00")) is None
