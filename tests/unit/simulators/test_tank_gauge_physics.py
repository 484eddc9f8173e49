"""Tank chart and temperature correction against the analytic cylinder and the §2.2 tables."""

from __future__ import annotations

import math

import pytest

from simulators.tank_gauge.chart import HorizontalCylinder
from simulators.tank_gauge.config import TankConfig
from simulators.tank_gauge.vcf import VolumeCorrection, rho15_from_rho20, thermal_expansion_alpha, vcf15

# 30 m³, Ø 2600 mm: the length follows from the capacity.
DIAMETER = 2600.0
LENGTH = TankConfig(number=1, capacity_l=30000.0, diameter_mm=DIAMETER).resolved_length_mm
CHART = HorizontalCylinder(DIAMETER, LENGTH)


def _segment_l(height_mm: float) -> float:
    """Circular segment area by its central angle, ½R²(θ − sin θ), times the length."""
    radius = DIAMETER / 2
    theta = 2 * math.acos((radius - height_mm) / radius)
    return 0.5 * radius**2 * (theta - math.sin(theta)) * LENGTH / 1e6


@pytest.mark.parametrize(
    ("height_mm", "litres"),
    [(0.0, 0.0), (DIAMETER / 2, 15000.0), (DIAMETER, 30000.0)],
)
def test_chart_empty_half_full(height_mm: float, litres: float) -> None:
    assert CHART.volume_l(height_mm) == pytest.approx(litres, abs=0.01)


@pytest.mark.parametrize("height_mm", [12.1, 325.0, 650.0, 1852.4, 2500.0])
def test_chart_matches_the_analytic_segment(height_mm: float) -> None:
    assert CHART.volume_l(height_mm) == pytest.approx(_segment_l(height_mm), rel=1e-9)


@pytest.mark.parametrize("litres", [1.0, 45.3, 7500.0, 18524.0, 29990.0])
def test_chart_height_inverts_volume(litres: float) -> None:
    assert CHART.volume_l(CHART.height_mm(litres)) == pytest.approx(litres, abs=0.001)


def test_chart_clamps_outside_the_tank() -> None:
    assert CHART.height_mm(-5.0) == 0.0
    assert CHART.height_mm(40000.0) == DIAMETER
    assert CHART.volume_l(DIAMETER + 100) == pytest.approx(30000.0)


@pytest.mark.parametrize(
    "capacity_l, diameter_mm", [(20000.0, 2400.0), (30000.0, 2600.0), (50000.0, 2800.0)]
)
def test_derived_length_gives_the_capacity(capacity_l: float, diameter_mm: float) -> None:
    config = TankConfig(number=1, capacity_l=capacity_l, diameter_mm=diameter_mm, initial_volume_l=0.0)
    assert HorizontalCylinder(diameter_mm, config.resolved_length_mm).full_l == pytest.approx(capacity_l)


def test_given_length_must_agree_with_capacity() -> None:
    with pytest.raises(ValueError, match="capacity_l"):
        TankConfig(number=1, capacity_l=30000.0, diameter_mm=2600.0, length_mm=4000.0)


# domain.md §2.2: VCF15 at 5/20/25/35 °C and VCF20 at 5/15/25/35 °C, keyed by ρ15.
TABLE = [
    (737.0, 0.001233, (1.01228, 0.99382, 0.98762, 0.97516), (1.01858, 1.00622, 0.99376, 0.98122)),
    (840.0, 0.000844, (1.00842, 0.99578, 0.99154, 0.98304), (1.01269, 1.00424, 0.99575, 0.98721)),
]


@pytest.mark.parametrize(("rho15", "alpha", "vcf15_values", "vcf20_values"), TABLE)
def test_vcf_matches_the_tables_within_0_02_percent(
    rho15: float, alpha: float, vcf15_values: tuple[float, ...], vcf20_values: tuple[float, ...]
) -> None:
    assert thermal_expansion_alpha(rho15) == pytest.approx(alpha, abs=5e-7)
    for temperature, expected in zip((5.0, 20.0, 25.0, 35.0), vcf15_values, strict=True):
        assert vcf15(temperature, rho15) == pytest.approx(expected, rel=2e-4)
    for temperature, expected in zip((5.0, 15.0, 25.0, 35.0), vcf20_values, strict=True):
        assert vcf15(temperature, rho15) / vcf15(20.0, rho15) == pytest.approx(expected, rel=2e-4)


def test_rho20_is_converted_to_rho15_before_the_vcf() -> None:
    assert rho15_from_rho20(737.0) == pytest.approx(741.54, abs=0.01)
    correction = VolumeCorrection(737.0)
    assert correction.vcf20(20.0) == pytest.approx(1.0, abs=1e-12)
    assert correction.vcf20(35.0) == pytest.approx(0.98140, rel=2e-5)  # not 0.98122 (ρ15 = 737)
    assert correction.vcf20(35.0) != pytest.approx(0.98122, rel=5e-5)


def test_diesel_expands_less_than_gasoline() -> None:
    gasoline, diesel = VolumeCorrection(737.0), VolumeCorrection(835.0)
    assert 1.0 - diesel.vcf20(30.0) < 1.0 - gasoline.vcf20(30.0)
    assert diesel.vcf20(5.0) > 1.0
