"""The SIR leak detector (business_services/inventory/leak.py): the verdict rule as domain.md §2.3 writes it,
the input checks, and the detector on a few seeded simulated tanks (simulators/tank_gauge/wetstock.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest

from benchmarks.bench_leak import tank_records
from business_services.inventory.leak import (
    Calibration,
    DailyReconciliation,
    LeakDetectionError,
    Verdict,
    detect_leak,
    verdict,
)
from simulators.tank_gauge.wetstock import WetStockConditions, simulate_days


@pytest.mark.parametrize(("rate", "threshold", "mdlr", "expected"), [
    (0.10, 0.30, 0.60, Verdict.PASS),          # |rate| < threshold, MDLR ≤ 0.76
    (0.30, 0.30, 0.60, Verdict.FAIL),          # |rate| ≥ threshold
    (-0.50, 0.30, 0.60, Verdict.FAIL),         # a significant gain fails too (the rule is on |rate|)
    (0.10, 0.50, 1.00, Verdict.INCONCLUSIVE),  # below the threshold but the MDLR misses the target
    (0.90, 0.50, 1.00, Verdict.FAIL),          # a noisy tank still fails on a big enough rate
])
def test_the_rule_of_domain_2_3(rate: float, threshold: float, mdlr: float, expected: Verdict) -> None:
    assert verdict(rate, threshold, mdlr) is expected


def test_a_tighter_target_turns_a_pass_inconclusive() -> None:
    assert verdict(0.05, 0.25, 0.5, target_l_h=0.38) is Verdict.INCONCLUSIVE


def _days(n: int, loss_per_day: float = 0.0) -> list[DailyReconciliation]:
    out, stock = [], 20000.0
    for k in range(n):
        sales = 4000.0 + 700.0 * ((k * 37) % 11 - 5) / 5      # varies from day to day, no noise
        delivery = 12000.0 if k % 4 == 0 else 0.0
        closing = stock + delivery - sales - loss_per_day + 3.0 * ((k * 53) % 7 - 3) / 3
        out.append(DailyReconciliation(date(2026, 3, 1) + timedelta(days=k), stock, delivery, sales, closing))
        stock = closing
    return out


def test_fewer_than_30_days_is_refused_with_what_to_do() -> None:
    with pytest.raises(LeakDetectionError, match="30"):
        detect_leak(_days(29))


def test_days_out_of_order_are_refused() -> None:
    days = _days(30)
    days[5], days[6] = days[6], days[5]
    with pytest.raises(LeakDetectionError, match="按日期"):
        detect_leak(days)


def test_a_steady_loss_is_measured_as_a_rate() -> None:
    result = detect_leak(_days(40, loss_per_day=48.0), calibration=Calibration(0.0, 0.01))   # 2 L/h
    assert result.leak_rate_l_h == pytest.approx(2.0, abs=0.1)
    assert result.verdict is Verdict.FAIL
    assert result.days == 40 and result.first_day == date(2026, 3, 1)


def test_a_meter_error_is_not_taken_for_a_leak() -> None:
    """0.4 % of sales missing every day, no leak: fitted as a loss per litre sold, the rate stays near 0."""
    days = [replace(d, closing_l=d.closing_l - 0.004 * sum(x.sales_l for x in _days(40)[: i + 1])
                    + 0.004 * sum(x.sales_l for x in _days(40)[:i]))
            for i, d in enumerate(_days(40))]
    result = detect_leak(days)
    assert result.loss_per_litre_sold_pct == pytest.approx(0.4, abs=0.05)
    assert abs(result.leak_rate_l_h) < result.threshold_l_h


@pytest.mark.parametrize("seed", [3, 11, 29])
def test_seeded_tanks_with_pump_tests_tell_leak_from_tight(seed: int) -> None:
    conditions = replace(WetStockConditions(), days=30)
    tight = simulate_days(4, 0.0, seed, conditions)
    leaking = simulate_days(4, 0.76, seed, conditions)
    for tank in range(4):
        known = Calibration(float(tight.meter_loss_pct[tank]), 0.03)
        leak = detect_leak(tank_records(leaking, tank), calibration=known)
        assert leak.verdict is Verdict.FAIL, leak
        assert leak.leak_rate_l_h == pytest.approx(0.76, abs=0.35)
        assert leak.mdlr_l_h <= 0.76
        assert detect_leak(tank_records(tight, tank), calibration=known).leak_rate_l_h < 0.5


def test_ninety_days_without_pump_tests_find_the_leak() -> None:
    conditions = replace(WetStockConditions(), days=90)
    leaking = simulate_days(3, 0.76, 5, conditions)
    results = [detect_leak(tank_records(leaking, tank)) for tank in range(3)]
    assert [r.verdict for r in results] == [Verdict.FAIL] * 3
    assert all(not r.calibrated and r.days == 90 for r in results)
