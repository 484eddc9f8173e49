"""Gas analytics (telemetry/analytics/gas.py): hand-made series for the edges, and the gas skid simulator's own
model (simulators/gas_skid) sampled like telemetry for the figures, checked against what the model itself knows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from simulators.gas_skid.compressor import Bank
from simulators.gas_skid.config import GasSkidConfig
from simulators.gas_skid.model import GasSkidModel
from telemetry.analytics.gas import cascade_usage, compressor_duty, lng_holding_time, saturation_c

T0 = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)


def _at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_holding_time_from_a_steady_rise() -> None:
    pressure = [(_at(600 * k), 0.50 + 0.001 * k) for k in range(37)]           # 6 kPa/h over 6 h
    held = lng_holding_time(pressure, _at(600 * 36), relief_g_mpa=1.1)
    assert held is not None and held.rise_kpa_per_h == pytest.approx(6.0, rel=1e-6)
    assert held.hours_to_relief == pytest.approx((1.1 - 0.536) / 0.006, rel=1e-6)
    assert held.relief_at == _at(600 * 36) + timedelta(hours=held.hours_to_relief)


def test_holding_time_ignores_the_dip_of_the_last_fill() -> None:
    rise = [(_at(600 * k), 0.60 + 0.001 * k) for k in range(20)]
    after_fill = [(_at(600 * (20 + k)), 0.55 + 0.001 * k) for k in range(12)]    # a fill dropped 6 kPa
    held = lng_holding_time(rise + after_fill, _at(600 * 31))
    assert held is not None and held.rise_kpa_per_h == pytest.approx(6.0, rel=1e-6)
    assert held.points == 12


def test_saturation_follows_the_table_of_domain_2_5() -> None:
    assert saturation_c(1.0 - 0.101325) == pytest.approx(-124.0, abs=0.05)
    assert saturation_c(0.5 - 0.101325) == pytest.approx(-138.0, abs=0.6)      # between −141.7 and −134.4


def test_holding_time_when_not_rising_at_relief_and_without_data() -> None:
    falling = lng_holding_time([(_at(600 * k), 0.8 - 0.0001 * k) for k in range(10)], _at(6000))
    assert falling is not None and falling.hours_to_relief is None
    at_relief = lng_holding_time([(_at(0), 1.12)], _at(60))
    assert at_relief is not None and at_relief.hours_to_relief == 0.0
    assert lng_holding_time([], _at(0)) is None


def test_compressor_duty_counts_starts_and_running_time() -> None:
    state = [(_at(-60), 0), (_at(600), 1), (_at(610), 2), (_at(1800), 0), (_at(2400), 3), (_at(2700), 0),
             (_at(3000), 2)]
    duty = compressor_duty(state, _at(0), _at(3600))
    assert duty.starts == 2                            # 0→1 and 0→2; a fault is not a start
    assert duty.running_s == pytest.approx(1200 + 600)
    assert duty.running_fraction == pytest.approx(1800 / 3600)
    assert duty.starts_per_hour == pytest.approx(2.0)
    assert compressor_duty([], _at(0), _at(3600)).running_fraction is None


def test_cascade_usage_from_bank_switches() -> None:
    bank = [(_at(0), 0), (_at(100), 1), (_at(160), 2), (_at(200), 3), (_at(500), 1), (_at(700), 0)]
    state = [(_at(0), 0), (_at(100), 1), (_at(230), 2), (_at(400), 0), (_at(500), 1), (_at(600), 2)]
    pressures = {"low": [(_at(0), 20.0), (_at(160), 18.5), (_at(600), 17.9)],
                 "mid": [(_at(0), 22.0), (_at(200), 21.0)], "high": [(_at(0), 24.0), (_at(230), 23.6)]}
    usage = cascade_usage([(state, bank)], pressures, _at(0), _at(1000))
    low, mid, high = usage.banks
    assert usage.fills == 2 and usage.fills_ending_on_high == 1
    assert (low.fills, mid.fills, high.fills) == (2, 1, 1)
    assert (low.supplying_s, mid.supplying_s, high.supplying_s) == (160, 40, 30)
    assert low.mean_drop_mpa == pytest.approx((1.5 + 0.6) / 2) and low.max_drop_mpa == pytest.approx(1.5)
    assert high.mean_drop_mpa == pytest.approx(0.4)


def _sample(model: GasSkidModel, seconds: float, every: float, sink: dict[str, list[tuple[datetime, float]]],
            start: float) -> None:
    t = start
    while t < start + seconds:
        model.advance(every)
        t += every
        at = _at(t)
        sink["compressor/state"].append((at, int(model.compressor.state)))
        for number, dispenser in enumerate(model.cng_dispensers, start=1):
            sink[f"cng{number}/active_bank"].append((at, int(dispenser.active_bank)))
            sink[f"cng{number}/state"].append((at, int(dispenser.state)))
        for bank in (Bank.LOW, Bank.MID, Bank.HIGH):
            sink[f"cascade/{bank.name.lower()}/pressure"].append((at, model.cascade.pressure_g(bank)))
        sink["lng_tank/pressure"].append((at, model.lng_tank.pressure_g))


def test_figures_from_the_gas_skid_simulator() -> None:
    model = GasSkidModel(GasSkidConfig(seed=4))
    model.start_compressor()
    series: dict[str, list[tuple[datetime, float]]] = {k: [] for k in (
        "compressor/state", "cng1/active_bank", "cng2/active_bank", "cng1/state", "cng2/state",
        "cascade/low/pressure", "cascade/mid/pressure",
        "cascade/high/pressure", "lng_tank/pressure")}
    run_hours_before = model.compressor.run_hours
    started = 0
    elapsed = 0.0
    for _ in range(12):                                  # a car at each dispenser every 5 minutes for an hour
        for number in (1, 2):
            model.start_cng_fill(number)
            started += 1
        _sample(model, 300, 1.0, series, elapsed)
        elapsed += 300
        for number in (1, 2):                            # a finished fill is reset for the next car
            model.cng(number).reset()
    end = _at(elapsed)

    usage = cascade_usage([(series[f"cng{n}/state"], series[f"cng{n}/active_bank"]) for n in (1, 2)],
                          {b: series[f"cascade/{b}/pressure"] for b in ("low", "mid", "high")}, T0, end)
    assert usage.fills == started
    low = usage.banks[0]
    assert low.fills == started                          # vehicles draw low → mid → high: every fill starts low
    assert low.mean_drop_mpa is not None and low.mean_drop_mpa > 0
    assert sum(b.share for b in usage.banks) == pytest.approx(1.0)

    duty = compressor_duty(series["compressor/state"], T0, end)
    ran_s = (model.compressor.run_hours - run_hours_before) * 3600
    assert duty.running_s == pytest.approx(ran_s, abs=5 * (duty.starts + 1))   # 1 s samples
    assert 0 < duty.running_fraction <= 1                                       # type: ignore[operator]

    # LNG: lose the vacuum (a fast heat leak, once the annulus pressure has levelled off), predict from 3 h of
    # readings, then run a quarter of the predicted time on and compare with the linear projection
    model.lose_lng_vacuum()
    for _ in range(200):
        if model.lng_tank.heat_leak_factor >= model.config.lng_tank.vacuum_loss_heat_factor:
            break
        model.advance(600)
        elapsed += 600
    pressure: list[tuple[datetime, float]] = []
    t = elapsed
    for _ in range(180):
        model.advance(60)
        t += 60
        pressure.append((_at(t), model.lng_tank.pressure_g))
    held = lng_holding_time(pressure, _at(t), relief_g_mpa=model.config.lng_tank.relief_g_mpa,
                            rate_window=timedelta(hours=3))
    assert held is not None and held.rise_kpa_per_h is not None and held.rise_kpa_per_h > 0
    assert held.hours_to_relief is not None
    quarter = held.hours_to_relief / 4
    p0 = model.lng_tank.pressure_g
    model.advance(quarter * 3600)
    rise = model.lng_tank.pressure_g - p0
    assert rise == pytest.approx(held.rise_kpa_per_h / 1000 * quarter, rel=0.25)   # the linear projection …
    assert held.hours_to_relief_saturated is not None
    assert held.hours_to_relief_saturated < held.hours_to_relief                   # … is the optimistic one
    model.advance((held.hours_to_relief_saturated - quarter) * 0.95 * 3600)
    assert model.lng_tank.pressure_g < held.relief_g_mpa                           # not yet at relief
    assert model.lng_tank.pressure_g > held.relief_g_mpa - 0.08                    # but close
