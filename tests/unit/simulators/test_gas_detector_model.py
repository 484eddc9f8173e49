"""Gas detector physics: leaks, sensor lag, alarms with hysteresis and latching, faults."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from simulators.gas_detector.config import DetectorConfig
from simulators.gas_detector.model import (
    DetectorModel,
    DetectorStatus,
    FaultCode,
    LeakEvent,
    SettingRejected,
)


def quiet_detector(**overrides: object) -> DetectorModel:
    """No warm-up, no noise: readings follow the gas exactly (through the sensor lag)."""
    settings: dict[str, object] = {"unit_id": 1, "warmup_s": 0.0, "noise_pct_lel": 0.0, **overrides}
    return DetectorModel(DetectorConfig.model_validate(settings), random.Random(1))


def run_for(model: DetectorModel, seconds: int) -> list[tuple[float, float | None, DetectorStatus]]:
    trace = []
    for _ in range(seconds):
        model.advance(1.0)
        trace.append((model.time_s, model.reading_pct_lel, model.status))
    return trace


def test_leak_shape_is_a_trapezoid() -> None:
    leak = LeakEvent(start_s=10.0, peak_vol_pct=3.0, rise_s=30.0, hold_s=60.0, fall_s=30.0)
    assert leak.vol_pct_at(5.0) == 0.0
    assert leak.vol_pct_at(25.0) == pytest.approx(1.5)
    assert leak.vol_pct_at(70.0) == 3.0
    assert leak.vol_pct_at(115.0) == pytest.approx(1.5)
    assert leak.vol_pct_at(131.0) == 0.0


def test_leak_rises_through_al1_then_al2_and_falls_back() -> None:
    model = quiet_detector()  # AL1 25, AL2 50, AL2 latched, AL1 not
    model.start_leak(peak_pct_lel=60.0, rise_s=30.0, hold_s=60.0, fall_s=30.0)
    trace = run_for(model, 200)

    first_al1 = next(t for t, _, status in trace if DetectorStatus.AL1 in status)
    first_al2 = next(t for t, _, status in trace if DetectorStatus.AL2 in status)
    peak = max(reading for _, reading, _ in trace if reading is not None)
    assert 0.0 < first_al1 < first_al2 < 90.0
    assert peak == pytest.approx(60.0, abs=0.5)
    _, final_reading, final_status = trace[-1]
    assert final_reading is not None and final_reading < 0.5
    assert DetectorStatus.AL1 not in final_status  # non-latching level cleared by itself
    assert DetectorStatus.AL2 in final_status and DetectorStatus.LATCHED in final_status

    model.reset_alarms()
    assert model.status == DetectorStatus(0)


def test_sensor_lags_the_gas_by_its_t90() -> None:
    model = quiet_detector(t90_s=20.0)
    model.start_leak(peak_pct_lel=40.0, rise_s=0.0, hold_s=600.0, fall_s=0.0)
    model.advance(20.0)
    reading = model.reading_pct_lel
    assert reading == pytest.approx(36.0, abs=0.2)  # 90 % of the step after T90


@pytest.mark.parametrize(("settled_pct_lel", "al1_still_on"), [(24.0, True), (22.0, False)])
def test_al1_clears_only_below_setpoint_minus_hysteresis(settled_pct_lel: float, al1_still_on: bool) -> None:
    model = quiet_detector(hysteresis_pct_lel=2.0)
    model.start_leak(peak_pct_lel=settled_pct_lel, rise_s=0.0, hold_s=1000.0, fall_s=0.0)
    model.start_leak(peak_pct_lel=30.0 - settled_pct_lel, rise_s=0.0, hold_s=60.0, fall_s=0.0)
    model.advance(60.0)
    assert DetectorStatus.AL1 in model.status
    model.advance(120.0)
    assert model.reading_pct_lel == pytest.approx(settled_pct_lel, abs=0.05)
    assert (DetectorStatus.AL1 in model.status) is al1_still_on


def test_gas_just_below_al1_raises_no_alarm() -> None:
    model = quiet_detector()
    model.start_leak(peak_pct_lel=24.9, rise_s=10.0, hold_s=600.0, fall_s=0.0)
    run_for(model, 300)
    assert model.status == DetectorStatus(0)


def test_reset_does_not_clear_a_latched_alarm_while_gas_is_present() -> None:
    model = quiet_detector()
    model.start_leak(peak_pct_lel=60.0, rise_s=0.0, hold_s=600.0, fall_s=0.0)
    model.advance(60.0)
    model.reset_alarms()
    assert {DetectorStatus.AL1, DetectorStatus.AL2} <= set(model.status)
    assert DetectorStatus.LATCHED not in model.status


def test_warm_up_gives_no_reading_and_inhibits_alarms() -> None:
    model = quiet_detector(warmup_s=60.0)
    model.start_leak(peak_pct_lel=60.0, rise_s=0.0, hold_s=600.0, fall_s=0.0)
    model.advance(59.0)
    assert model.reading_pct_lel is None
    assert model.status == DetectorStatus.WARMUP
    assert model.warmup_remaining_s == pytest.approx(1.0)
    model.advance(2.0)
    assert model.reading_pct_lel == pytest.approx(60.0, abs=0.1)
    assert {DetectorStatus.AL1, DetectorStatus.AL2} <= set(model.status)


def test_sensor_fault_drops_reading_and_unlatched_alarms() -> None:
    model = quiet_detector()
    model.start_leak(peak_pct_lel=60.0, rise_s=0.0, hold_s=600.0, fall_s=0.0)
    model.advance(60.0)
    model.set_sensor_fault()
    assert model.reading_pct_lel is None
    assert model.fault_code is FaultCode.SENSOR_FAULT
    assert model.status == DetectorStatus.FAULT | DetectorStatus.AL2 | DetectorStatus.LATCHED
    model.set_sensor_fault(False)
    assert model.reading_pct_lel == pytest.approx(60.0, abs=0.1)


def test_probe_out_sets_fault_and_sensor_out() -> None:
    model = quiet_detector()
    model.set_probe_out()
    assert model.fault_code is FaultCode.SENSOR_OUT
    assert model.status == DetectorStatus.FAULT | DetectorStatus.SENSOR_OUT
    assert model.reading_pct_lel is None


def test_stuck_sensor_keeps_reading_while_gas_rises() -> None:
    model = quiet_detector()
    model.advance(10.0)
    model.set_stuck()
    model.start_leak(peak_pct_lel=60.0, rise_s=0.0, hold_s=600.0, fall_s=0.0)
    model.advance(60.0)
    assert model.ambient_vol_pct == pytest.approx(3.0)
    assert model.reading_pct_lel == 0.0
    assert model.status == DetectorStatus(0)  # the detector does not know it is stuck
    model.set_stuck(False)
    model.advance(1.0)
    assert model.reading_pct_lel == pytest.approx(60.0, abs=0.1)


def test_lel_basis_changes_the_reading_of_the_same_gas() -> None:
    model = quiet_detector()
    model.start_leak(peak_pct_lel=20.0, rise_s=0.0, hold_s=600.0, fall_s=0.0)  # 1.0 vol % methane
    model.advance(120.0)
    assert model.reading_pct_lel == pytest.approx(20.0, abs=0.05)
    model.apply_settings(replace(model.settings, lel_basis_vol_pct=4.4))
    assert model.reading_pct_lel == pytest.approx(100.0 / 4.4, abs=0.05)


def test_over_range_clamps_at_full_scale() -> None:
    model = quiet_detector()
    model.start_leak(peak_pct_lel=150.0, rise_s=0.0, hold_s=600.0, fall_s=0.0)
    model.advance(120.0)
    assert model.reading_pct_lel == 100.0
    assert DetectorStatus.OVER_RANGE in model.status


def test_baseline_noise_is_small_and_repeatable() -> None:
    def readings(seed: int) -> list[float | None]:
        config = DetectorConfig(unit_id=3, warmup_s=0.0, noise_pct_lel=0.2)
        model = DetectorModel(config, random.Random(seed))
        return [reading for _, reading, _ in run_for(model, 200)]

    first = readings(7)
    assert first == readings(7)
    assert first != readings(8)
    values = [value for value in first if value is not None]
    assert len(values) == 200 and len(set(values)) > 50
    assert min(values) >= 0.0 and max(values) < 1.5


@pytest.mark.parametrize(
    "changes",
    [
        {"al1_pct_lel": 30.0},
        {"al1_pct_lel": 0.5},
        {"al2_pct_lel": 20.0},
        {"al2_pct_lel": 55.0},
        {"hysteresis_pct_lel": 12.0},
        {"lel_basis_vol_pct": 0.1},
    ],
)
def test_out_of_range_settings_are_rejected_and_kept(changes: dict[str, float]) -> None:
    model = quiet_detector()
    before = model.settings
    with pytest.raises(SettingRejected):
        model.apply_settings(replace(model.settings, **changes))
    assert model.settings == before


def test_power_cycle_restarts_warm_up_and_clears_alarms() -> None:
    model = quiet_detector(warmup_s=30.0)
    model.start_leak(peak_pct_lel=60.0, rise_s=0.0, hold_s=600.0, fall_s=0.0)
    model.advance(90.0)
    assert DetectorStatus.AL2 in model.status
    model.power_cycle()
    assert model.status == DetectorStatus.WARMUP
    model.advance(31.0)
    assert DetectorStatus.AL2 in model.status  # gas still there after warm-up
