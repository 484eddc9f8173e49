"""Days of wet stock for many tanks at once: what a station's daily reconciliation would record.

For the leak detector's benchmark (benchmarks/bench_leak.py) and tests: ``simulate_days`` runs ``runs``
independent tanks (one numpy row each, seeded) over ``days`` days and returns, per tank and day, the opening
and closing stock *as the gauge measures it* at 20 °C, the deliveries and the sales *as booked*, while the
true product moves by the physics below. Nothing here knows the detector.

The physics (docs/leak-detection.md lists the figures and where they come from):

* a 30 m³ horizontal cylinder (``chart.HorizontalCylinder`` geometry), 92# gasoline (ρ20 737 kg/m³), volumes
  corrected with the GB/T 1885 factor (``vcf``);
* sales that vary by weekday and from day to day; a delivery the morning after the tank falls below the
  reorder level, of product warmer or colder than the tank, mixing into its temperature;
* the tank's temperature following the ground with day-to-day swings, a seasonal drift and the deliveries;
* errors: the gauge's level noise and a smooth residual tank-chart error, the temperature probe's bias and
  noise (and a stratified reading on a delivery day), each station's meter calibration error (a bias within
  the ±0.3 % class) plus day-to-day meter noise, the sold fuel's temperature differing from the probe's
  average, and delivery volumes booked with an error;
* a leak: a constant loss of ``leak_l_h`` litres per hour.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from simulators.tank_gauge.vcf import rho15_from_rho20, thermal_expansion_alpha, vcf15

Array = NDArray[np.float64]
_MM3_PER_L = 1_000_000.0


@dataclass(frozen=True, slots=True)
class WetStockConditions:
    """What the simulated station looks like; defaults are a busy 30 m³ gasoline tank."""

    days: int = 30
    diameter_mm: float = 2600.0
    length_mm: float = 5650.0            # with 2600 mm: 30.0 m³
    density_20: float = 737.0            # 92# gasoline
    sales_l_day: float = 4500.0          # mean daily sales (gross litres)
    weekend_uplift: float = 0.25         # Saturday and Sunday sell this much more
    sales_cv: float = 0.2                # day-to-day variation of sales
    reorder_l: float = 9000.0            # a delivery comes the next morning below this
    fill_to_l: float = 26000.0           # … and fills to about this (whole truck compartments of 1000 L)
    ground_c: float = 18.0               # temperature the buried tank follows
    seasonal_c_per_day: float = 0.1      # seasonal drift of the ground temperature
    tank_swing_c: float = 0.4            # day-to-day swing of the tank's temperature
    delivery_temp_sd_c: float = 4.0      # a truck's product vs the tank
    level_noise_mm: float = 0.2          # gauge level repeatability (1σ), a magnetostrictive probe
    chart_error_l: float = 5.0           # amplitude of the residual (calibrated) tank-chart error
    probe_bias_sd_c: float = 0.2         # the temperature probe's bias, per tank (1σ)
    probe_noise_c: float = 0.1           # … and its reading noise
    stratified_c: float = 0.3            # extra temperature reading error on a delivery day
    meter_bias_sd_pct: float = 0.1       # a station's meter calibration error (1σ, cut at the ±0.3 % class)
    meter_noise_pct: float = 0.02        # day-to-day meter error
    sold_temp_sd_c: float = 0.3          # sold fuel's temperature vs the probe's average, per day
    delivery_error_pct: float = 0.05     # booked (gauge-measured) delivery volume vs received (1σ)
    initial_l: float = 18000.0


@dataclass(frozen=True, slots=True)
class WetStockDays:
    """Per tank (row) and day (column), litres at 20 °C."""

    opening_l: Array
    deliveries_l: Array
    sales_l: Array
    closing_l: Array
    leak_l_h: float
    meter_loss_pct: Array         # per tank: the meters' true calibration error (what a pump test measures)


def _vcf20(temperature_c: Array, density_20: float) -> Array:
    rho15 = rho15_from_rho20(density_20)
    alpha = thermal_expansion_alpha(rho15)
    delta = temperature_c - 15.0
    return np.exp(-alpha * delta * (1.0 + 0.8 * alpha * delta)) / vcf15(20.0, rho15)


def _volume_l(height_mm: Array, c: WetStockConditions) -> Array:
    r = c.diameter_mm / 2.0
    h = np.clip(height_mm, 0.0, c.diameter_mm)
    segment = r * r * np.arccos((r - h) / r) - (r - h) * np.sqrt(np.maximum(2.0 * r * h - h * h, 0.0))
    return c.length_mm * segment / _MM3_PER_L


def _height_mm(volume_l: Array, c: WetStockConditions) -> Array:
    low = np.zeros_like(volume_l)
    high = np.full_like(volume_l, c.diameter_mm)
    for _ in range(40):                                      # bisection, all tanks at once: 2600 mm / 2⁴⁰
        middle = (low + high) / 2.0
        below = _volume_l(middle, c) < volume_l
        low = np.where(below, middle, low)
        high = np.where(below, high, middle)
    return (low + high) / 2.0


def _litres_per_mm(height_mm: Array, c: WetStockConditions) -> Array:
    return c.length_mm * 2.0 * np.sqrt(np.maximum(height_mm * (c.diameter_mm - height_mm), 0.0)) / _MM3_PER_L


def simulate_days(runs: int, leak_l_h: float, seed: int, conditions: WetStockConditions | None = None) -> WetStockDays:
    """``runs`` independent tanks over ``conditions.days`` days, a constant leak of ``leak_l_h`` in each."""
    c = conditions or WetStockConditions()
    rng = np.random.default_rng(seed)
    days = c.days
    # per tank: the instruments' own errors
    meter_bias = np.clip(rng.normal(0.0, c.meter_bias_sd_pct, runs), -0.3, 0.3) / 100.0
    probe_bias = rng.normal(0.0, c.probe_bias_sd_c, runs)
    chart_waves = rng.uniform(1.5, 4.0, runs)
    chart_phase = rng.uniform(0.0, 2.0 * np.pi, runs)
    weekday0 = rng.integers(0, 7, runs)

    def chart_error(height_mm: Array) -> Array:
        return c.chart_error_l * np.sin(chart_waves * np.pi * height_mm / c.diameter_mm + chart_phase)

    tank_c = c.ground_c + rng.normal(0.0, 1.0, runs)
    true_tc = np.full(runs, c.initial_l)

    def read(delivered_today: NDArray[np.bool_]) -> Array:
        gross = true_tc / _vcf20(tank_c, c.density_20)
        height = _height_mm(gross, c)
        level_error = _litres_per_mm(height, c) * rng.normal(0.0, c.level_noise_mm, runs)
        measured_gross = gross + level_error + chart_error(height)
        probe = (tank_c + probe_bias + rng.normal(0.0, c.probe_noise_c, runs)
                 + np.where(delivered_today, rng.normal(0.0, c.stratified_c, runs), 0.0))
        return measured_gross * _vcf20(probe, c.density_20)

    readings = np.empty((runs, days + 1))
    deliveries = np.zeros((runs, days))
    sales = np.empty((runs, days))
    readings[:, 0] = read(np.zeros(runs, dtype=bool))
    for day in range(days):
        ground = c.ground_c + c.seasonal_c_per_day * day
        # the morning's delivery, when yesterday's closing stock was low
        due = readings[:, day] < c.reorder_l
        received_tc = np.where(due, np.floor((c.fill_to_l - true_tc) / 1000.0) * 1000.0, 0.0)
        truck_c = tank_c + rng.normal(0.0, c.delivery_temp_sd_c, runs)
        tank_c = np.where(due, (tank_c * true_tc + truck_c * received_tc) / np.maximum(true_tc + received_tc, 1.0),
                          tank_c)
        true_tc = true_tc + received_tc
        deliveries[:, day] = received_tc * (1.0 + rng.normal(0.0, c.delivery_error_pct / 100.0, runs))
        # the day's sales, dispensed at about the tank's temperature
        weekend = ((weekday0 + day) % 7) >= 5
        gross_sold = (c.sales_l_day * np.where(weekend, 1.0 + c.weekend_uplift, 1.0)
                      * np.exp(rng.normal(0.0, c.sales_cv, runs) - c.sales_cv**2 / 2.0))
        sold_c = tank_c + rng.normal(0.0, c.sold_temp_sd_c, runs)
        true_tc = true_tc - gross_sold * _vcf20(sold_c, c.density_20) - leak_l_h * 24.0
        metered = gross_sold * (1.0 - meter_bias + rng.normal(0.0, c.meter_noise_pct / 100.0, runs))
        probe_day = tank_c + probe_bias
        sales[:, day] = metered * _vcf20(probe_day, c.density_20)
        # the tank drifts towards the ground temperature, with a day-to-day swing
        tank_c = tank_c + 0.3 * (ground - tank_c) + rng.normal(0.0, c.tank_swing_c, runs)
        readings[:, day + 1] = read(due)
    return WetStockDays(opening_l=readings[:, :-1], deliveries_l=deliveries, sales_l=sales,
                        closing_l=readings[:, 1:], leak_l_h=leak_l_h,
                        meter_loss_pct=meter_bias * 100.0)
