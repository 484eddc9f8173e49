"""Methane property functions of the gas skid: the real-gas fit and the LNG saturation line."""

from __future__ import annotations

import pytest

from simulators.gas_skid import gas


@pytest.mark.parametrize(
    ("p_abs", "t_c", "rho"),
    [(20.0, 15.0, 167.8), (25.0, 15.0, 199.3), (0.101325, 20.0, 0.668)],
)
def test_cng_density_reproduces_coolprop_points(p_abs: float, t_c: float, rho: float) -> None:
    assert gas.cng_density(gas.gauge(p_abs), t_c) == pytest.approx(rho, rel=2e-3)


@pytest.mark.parametrize("p_g", [0.5, 5.0, 12.0, 20.0, 25.0, 30.0])
@pytest.mark.parametrize("t_c", [-20.0, 15.0, 45.0])
def test_pressure_from_density_inverts_density(p_g: float, t_c: float) -> None:
    assert gas.cng_pressure_g(gas.cng_density(p_g, t_c), t_c) == pytest.approx(p_g, abs=1e-9)


def test_density_rises_with_pressure_and_falls_with_temperature() -> None:
    pressures = [0.0, 5.0, 10.0, 15.0, 20.0, 25.0, 30.0]
    densities = [gas.cng_density(p, 15.0) for p in pressures]
    assert densities == sorted(densities)
    assert gas.cng_density(20.0, 40.0) < gas.cng_density(20.0, 15.0) < gas.cng_density(20.0, -10.0)


def test_compensated_target_is_reference_at_reference_temperature() -> None:
    assert gas.compensated_target_g(20.0, 15.0, 15.0) == pytest.approx(20.0, abs=1e-9)


@pytest.mark.parametrize(("t_c", "low", "high"), [(-10.0, 17.5, 18.7), (30.0, 21.2, 22.0), (45.0, 22.3, 23.2)])
def test_compensated_target_follows_gas_temperature(t_c: float, low: float, high: float) -> None:
    target = gas.compensated_target_g(20.0, 15.0, t_c)
    assert low < target < high
    # the same gas as 20 MPa at 15 °C
    assert gas.cng_density(target, t_c) == pytest.approx(gas.cng_density(20.0, 15.0), rel=1e-9)


@pytest.mark.parametrize(("p_abs", "t_c", "rho"), [row for row in gas.SATURATION_TABLE])
def test_saturation_table_rows_are_hit_exactly(p_abs: float, t_c: float, rho: float) -> None:
    assert gas.lng_saturation_pressure_abs(t_c) == pytest.approx(p_abs, abs=1e-9)
    assert gas.lng_saturation_temperature(p_abs) == pytest.approx(t_c, abs=1e-9)
    assert gas.lng_liquid_density(t_c) == pytest.approx(rho, abs=1e-9)


@pytest.mark.parametrize(("p_g", "kpa_per_k"), [(0.2, 19.0), (0.4, 27.0), (0.6, 35.0), (0.8, 42.0), (1.0, 49.0)])
def test_dpsat_dt_matches_domain_reference(p_g: float, kpa_per_k: float) -> None:
    t_c = gas.lng_saturation_temperature(gas.absolute(p_g))
    assert gas.dpsat_dt(t_c) * 1000.0 == pytest.approx(kpa_per_k, rel=0.05)


def test_saturation_inverse_between_rows() -> None:
    for p_abs in (0.15, 0.33, 0.71, 1.05, 1.4):
        assert gas.lng_saturation_pressure_abs(gas.lng_saturation_temperature(p_abs)) == pytest.approx(p_abs)
