"""The stepped tank model: expansion, leaks, deliveries, leak tests, alarms, probe faults, noise."""

from __future__ import annotations

import math
import random
import statistics
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from simulators.tank_gauge.config import TankAlarmLimits, TankConfig
from simulators.tank_gauge.errors import TankStateError
from simulators.tank_gauge.model import Tank
from simulators.tank_gauge.records import TankAlarm, TankStatus
from simulators.tank_gauge.vcf import VolumeCorrection

START = datetime(2026, 1, 15, 0, 0, tzinfo=UTC)


def _tank(step_s: float = 1.0, seed: int = 7, **overrides: Any) -> Tank:
    settings: dict[str, Any] = {
        "number": 1, "capacity_l": 30000.0, "diameter_mm": 2600.0, "initial_volume_l": 15000.0,
        "temperature_c": 16.0, "ground_temperature_c": 16.0, "height_noise_mm": 0.0,
        "temperature_noise_c": 0.0, **overrides,
    }
    return Tank(TankConfig(**settings), random.Random(seed), start=START, step_s=step_s)


def _run(tank: Tank, seconds: float, chunk: float | None = None) -> None:
    chunk = chunk or seconds
    done = 0.0
    while done < seconds - 1e-9:
        done += chunk
        tank.advance(chunk, tank.now + timedelta(seconds=chunk))


def test_tc_volume_follows_the_expansion_table() -> None:
    tank = _tank(temperature_c=35.0, ground_temperature_c=35.0, density_20=737.0)
    reading = tank.reading()
    assert reading.tc_volume_l / reading.volume_l == pytest.approx(0.98140, rel=2e-4)


def test_cooling_shrinks_gross_volume_but_keeps_tc_volume() -> None:
    tank = _tank(step_s=10.0, temperature_c=25.0, ground_temperature_c=10.0, thermal_time_constant_h=12.0)
    before = tank.reading()
    _run(tank, 48 * 3600)
    after = tank.reading()
    assert after.temperature_c == pytest.approx(10.0 + 15.0 * math.exp(-48 / 12), abs=0.01)
    assert after.tc_volume_l == pytest.approx(before.tc_volume_l, rel=1e-6)
    correction = VolumeCorrection(737.0)
    expected_gross = before.tc_volume_l / correction.vcf20(after.temperature_c)
    assert after.volume_l == pytest.approx(expected_gross, rel=1e-5)
    assert after.volume_l < before.volume_l - 100  # ≈ 0.0012/°C × 15 °C × 15000 L ≈ 270 L
    assert after.height_mm < before.height_mm


@pytest.mark.parametrize("leak_l_h", [0.5, 2.0, 10.0])
def test_a_leak_shows_up_as_that_many_litres_per_hour_over_a_day(leak_l_h: float) -> None:
    tank = _tank(step_s=10.0)
    before = tank.reading()
    tank.set_leak(leak_l_h)
    _run(tank, 24 * 3600, chunk=3600)
    lost = before.volume_l - tank.reading().volume_l
    assert lost == pytest.approx(24 * leak_l_h, abs=0.05)


def test_draw_takes_litres_and_never_more_than_there_is() -> None:
    tank = _tank(initial_volume_l=100.0)
    assert tank.draw(40.0) == pytest.approx(40.0)
    assert tank.reading().volume_l == pytest.approx(60.0, abs=0.01)
    assert tank.draw(500.0) == pytest.approx(60.0, abs=0.01)
    assert tank.reading().volume_l == pytest.approx(0.0, abs=0.01)


def test_delivery_sets_the_bit_then_produces_a_record_after_settling() -> None:
    tank = _tank(step_s=5.0, delivery_settle_s=900.0)
    tank.start_delivery(6000.0, product_temp_c=24.0, rate_l_min=600.0)
    assert tank.status & TankStatus.DELIVERY_IN_PROGRESS
    _run(tank, 300)  # half-way through the drop
    assert 17900 < tank.reading().volume_l < 18100
    _run(tank, 300 + 600)  # flowed, settling for 600 of 900 s
    assert tank.status & TankStatus.DELIVERY_IN_PROGRESS
    assert tank.deliveries == ()
    _run(tank, 300)
    assert not tank.status & TankStatus.DELIVERY_IN_PROGRESS
    (record,) = tank.deliveries
    assert record.start == START
    assert record.end == START + timedelta(seconds=1500)
    assert record.start_volume_l == pytest.approx(15000.0, abs=0.1)
    assert record.volume_l == pytest.approx(6000.0, rel=0.005)
    assert record.tc_volume_l == pytest.approx(6000.0 * VolumeCorrection(737.0).vcf20(24.0), rel=0.001)
    assert 16.0 < record.end_temperature_c < 24.0  # mixed
    assert record.end_height_mm > record.start_height_mm


def test_a_fast_step_spreads_its_instants_over_the_steps_wall_clock_stamps() -> None:
    """At speed 100 a step of 600 simulated seconds spans 6 s of wall clock (``SimClock.stamp``): an alarm
    raised part-way (the drop overfills the tank) is stamped inside those 6 s, never before them."""
    tank = _tank(initial_volume_l=28000.0, delivery_settle_s=0.0)
    tank.start_delivery(5000.0, 16.0, 1000.0)
    tank.advance(600.0, START + timedelta(seconds=6))
    assert tank.alarm_history, "the overfill raised alarms"
    assert all(START <= event.at < START + timedelta(seconds=6) for event in tank.alarm_history), tank.alarm_history


def test_overfilling_delivery_spills_at_full() -> None:
    tank = _tank(initial_volume_l=28000.0, delivery_settle_s=0.0)
    tank.start_delivery(5000.0, 16.0, 1000.0)
    _run(tank, 600)
    assert tank.reading().volume_l == pytest.approx(30000.0, abs=0.5)
    assert tank.spilled_l == pytest.approx(3000.0, abs=0.5)


def _alarms_at(volume_l: float, water_mm: float = 0.0) -> frozenset[TankAlarm]:
    tank = _tank(initial_volume_l=volume_l, water_mm=water_mm)
    return tank.alarms


@pytest.mark.parametrize(
    ("volume_l", "water_mm", "expected"),
    [
        (15000.0, 0.0, set()),
        (26990.0, 0.0, set()),  # 89.97 %
        (27010.0, 0.0, {TankAlarm.OVERFILL}),  # 90.03 %
        (28510.0, 0.0, {TankAlarm.OVERFILL, TankAlarm.HIGH_PRODUCT}),
        (6010.0, 0.0, set()),
        (5990.0, 0.0, {TankAlarm.DELIVERY_NEEDED}),
        (2990.0, 0.0, {TankAlarm.DELIVERY_NEEDED, TankAlarm.LOW_PRODUCT}),
        (15000.0, 29.9, set()),
        (15000.0, 30.0, {TankAlarm.HIGH_WATER_WARNING}),
        (15000.0, 50.0, {TankAlarm.HIGH_WATER_WARNING, TankAlarm.HIGH_WATER}),
    ],
)
def test_alarms_at_their_thresholds(volume_l: float, water_mm: float, expected: set[TankAlarm]) -> None:
    assert _alarms_at(volume_l, water_mm) == expected


def test_alarm_rises_during_a_drop_and_lands_in_the_history() -> None:
    tank = _tank(initial_volume_l=26000.0, delivery_settle_s=60.0)
    tank.start_delivery(2000.0, 16.0, 600.0)
    _run(tank, 600, chunk=10)
    assert TankAlarm.OVERFILL in tank.alarms
    (event,) = tank.alarm_history
    assert event.alarm == TankAlarm.OVERFILL
    assert START + timedelta(seconds=90) <= event.at <= START + timedelta(seconds=120)


def test_custom_limits_are_used() -> None:
    limits = TankAlarmLimits(overfill_pct=80.0, high_product_pct=85.0)
    tank = _tank(initial_volume_l=24500.0, alarms=limits)
    assert tank.alarms == {TankAlarm.OVERFILL}


def test_probe_out_gives_no_reading_and_only_the_probe_alarm() -> None:
    tank = _tank(initial_volume_l=29000.0)
    tank.set_probe_out()
    reading = tank.reading()
    assert reading.status & TankStatus.INVALID_FUEL_HEIGHT
    assert reading.volume_l == 0.0 and reading.height_mm == 0.0
    assert tank.alarms == {TankAlarm.PROBE_OUT}
    tank.set_probe_out(False)
    assert tank.alarms == {TankAlarm.OVERFILL, TankAlarm.HIGH_PRODUCT}


def test_stuck_level_freezes_readings_while_product_is_sold() -> None:
    tank = _tank(height_noise_mm=0.2)
    _run(tank, 10)
    frozen = tank.reading()
    tank.set_stuck_level()
    tank.draw(3000.0)
    _run(tank, 600)
    assert tank.reading() == frozen
    tank.set_stuck_level(False)
    assert tank.reading().volume_l == pytest.approx(12000.0, abs=10.0)


def test_leak_test_passes_on_a_tight_tank_and_fails_on_a_leaking_one() -> None:
    tight, leaking = _tank(step_s=10.0), _tank(step_s=10.0)
    leaking.set_leak(2.0)
    for tank in (tight, leaking):
        tank.start_leak_test(duration_h=3)
        assert tank.status & TankStatus.LEAK_TEST_IN_PROGRESS
        _run(tank, 3 * 3600, chunk=600)
        assert not tank.status & TankStatus.LEAK_TEST_IN_PROGRESS
    assert tight.last_leak_test is not None and leaking.last_leak_test is not None
    assert tight.last_leak_test.leak_rate_l_h == pytest.approx(0.0, abs=1e-6)
    assert TankAlarm.LEAK not in tight.alarms
    result = leaking.last_leak_test
    assert result.duration_h == 3
    litres_20 = 2.0 * VolumeCorrection(737.0).vcf20(16.0)  # 2 L/h at 16 °C, in litres at 20 °C
    assert result.leak_rate_l_h == pytest.approx(-litres_20, rel=1e-3)
    assert result.hourly_changes_l == pytest.approx((-litres_20, -2 * litres_20, -3 * litres_20), rel=1e-3)
    assert TankAlarm.LEAK in leaking.alarms


def test_sales_abort_a_leak_test_and_a_drop_forbids_one() -> None:
    tank = _tank()
    tank.start_leak_test(2)
    tank.draw(1.0)
    assert not tank.status & TankStatus.LEAK_TEST_IN_PROGRESS
    _run(tank, 3 * 3600, chunk=600)
    assert tank.last_leak_test is None
    tank.start_delivery(1000.0, 16.0)
    with pytest.raises(TankStateError):
        tank.start_leak_test(2)


def test_noise_has_the_configured_sigma_and_repeats_from_the_seed() -> None:
    def heights(seed: int) -> list[float]:
        tank = _tank(seed=seed, height_noise_mm=0.2)
        out = []
        for _ in range(400):
            _run(tank, 1)
            out.append(tank.reading().height_mm)
        return out

    first = heights(3)
    assert statistics.pstdev(first) == pytest.approx(0.2, rel=0.15)
    assert heights(3) == first
    assert heights(4) != first


def test_physics_does_not_depend_on_how_time_is_chunked() -> None:
    one, many = _tank(height_noise_mm=0.2), _tank(height_noise_mm=0.2)
    for tank in (one, many):
        tank.set_leak(3.0)
        tank.start_delivery(2000.0, 25.0, 400.0)
    _run(one, 3600)
    _run(many, 3600, chunk=0.7)
    assert one.reading() == many.reading()
