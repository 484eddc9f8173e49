"""Methane properties for the gas skid: a real-gas fit for CNG and the LNG saturation line.

Pure functions, no state. Pressures are MPa, ``_abs`` or ``_g`` (gauge) as named;
temperatures °C unless ``_k``; densities kg/m³.

CNG (compressed gas, 0-30 MPa, ambient temperature): ``rho = p_abs * M / (Z(p_abs) * R * T)`` with
``Z(p) = 1 + Z_A * p + Z_B * p**2`` (p in MPa abs). The two coefficients make the fit pass exactly
through the CoolProp points of domain.md §2.4 (167.8 kg/m³ at 20 MPa and 199.3 kg/m³ at 25 MPa,
both 15 °C); at 1 atm it gives Z = 0.9975 (CoolProp: 0.998). Z does not depend on temperature in
this fit, so a temperature change acts as in an ideal gas. Between the points it is an
interpolation, not checked against CoolProp. ``P/Z(P)`` rises monotonically up to about 36 MPa,
so the fit is inverted in closed form (a quadratic) for pressure from density.

LNG (pure methane on its saturation line): the CoolProp table of domain.md §2.5, interpolated
piecewise linearly in temperature. ``dpsat_dt`` is therefore constant between table rows
(19, 27, 35, 43, 49 kPa/K around 0.2, 0.4, 0.6, 0.8, 1.0 MPa gauge, as in §2.5).
"""

from __future__ import annotations

import math
from bisect import bisect_right

#: Gas constant, J/(mol·K).
R_J_MOL_K = 8.314462618
#: Molar mass of methane, kg/mol.
M_KG_MOL = 0.016043
#: Standard atmosphere, MPa; gauge = abs - ATM_MPA.
ATM_MPA = 0.101325
#: 0 °C in kelvin.
T0_K = 273.15

#: Real-gas fit Z(p) = 1 + Z_A p + Z_B p², p in MPa abs (through CoolProp 20 and 25 MPa at 15 °C).
Z_A = -0.024864525
Z_B = 0.000738538

#: Liquid methane, specific heat (J/(kg·K)); CoolProp gives 3.4-3.9 kJ/(kg·K) along -160..-120 °C.
LNG_CP_J_KG_K = 3500.0
#: Latent heat of vaporisation (J/kg) at 1 atm; used at every pressure (it falls to ~0.44 MJ/kg at 1 MPa).
LNG_H_FG_J_KG = 510_000.0

#: Methane saturation: (p_abs MPa, Tsat °C, liquid density kg/m³), CoolProp 8.0 (domain.md §2.5).
SATURATION_TABLE: tuple[tuple[float, float, float], ...] = (
    (0.101325, -161.5, 422.4),
    (0.2, -152.5, 408.9),
    (0.4, -141.7, 391.7),
    (0.6, -134.4, 379.1),
    (0.8, -128.7, 368.8),
    (1.0, -124.0, 359.6),
    (1.2, -119.9, 351.3),
    (1.6, -113.0, 336.0),
)
_SAT_T = tuple(row[1] for row in SATURATION_TABLE)
_SAT_P = tuple(row[0] for row in SATURATION_TABLE)
_SAT_RHO = tuple(row[2] for row in SATURATION_TABLE)


def gauge(p_abs_mpa: float) -> float:
    return p_abs_mpa - ATM_MPA


def absolute(p_g_mpa: float) -> float:
    return p_g_mpa + ATM_MPA


# --- CNG -------------------------------------------------------------------------------------------


def z_factor(p_abs_mpa: float) -> float:
    """Compressibility of methane by the quadratic fit (temperature-independent)."""
    return 1.0 + Z_A * p_abs_mpa + Z_B * p_abs_mpa * p_abs_mpa


def cng_density(p_g_mpa: float, t_c: float) -> float:
    """Gas density (kg/m³) at a gauge pressure and temperature; 0 at or below atmospheric."""
    p_abs = max(absolute(p_g_mpa), 0.0)
    return p_abs * 1e6 * M_KG_MOL / (z_factor(p_abs) * R_J_MOL_K * (t_c + T0_K))


def cng_pressure_g(density_kg_m3: float, t_c: float) -> float:
    """Gauge pressure (MPa) of gas at a density and temperature: the fit solved for p.

    ``rho (1 + a p + b p²) = k p`` with ``k = 1e6 M / (R T)``; the smaller root is the physical one.
    """
    if density_kg_m3 <= 0.0:
        return -ATM_MPA
    k = 1e6 * M_KG_MOL / (R_J_MOL_K * (t_c + T0_K))
    rho = density_kg_m3
    linear = k - rho * Z_A
    disc = linear * linear - 4.0 * rho * rho * Z_B
    if disc <= 0.0:  # beyond the fit's range (~36 MPa): the maximum of p/Z
        return gauge(linear / (2.0 * rho * Z_B))
    p_abs = (linear - math.sqrt(disc)) / (2.0 * rho * Z_B)
    return gauge(p_abs)


def compensated_target_g(reference_g_mpa: float, reference_t_c: float, gas_t_c: float) -> float:
    """Fill-end pressure at ``gas_t_c`` that holds the same gas as ``reference_g_mpa`` at ``reference_t_c``.

    A cylinder stopped at this pressure settles to the reference pressure once the gas has
    cooled (or warmed) to the reference temperature: equal density, so equal mass.
    """
    return cng_pressure_g(cng_density(reference_g_mpa, reference_t_c), gas_t_c)


# --- LNG -------------------------------------------------------------------------------------------


def _segment(t_c: float) -> int:
    """Index i of the table row pair (i, i+1) used at temperature t_c (clamped to the ends)."""
    i = bisect_right(_SAT_T, t_c) - 1
    return min(max(i, 0), len(_SAT_T) - 2)


def lng_saturation_pressure_abs(t_c: float) -> float:
    """Saturation pressure (MPa abs) of methane at ``t_c``; linear between table rows."""
    i = _segment(t_c)
    slope = (_SAT_P[i + 1] - _SAT_P[i]) / (_SAT_T[i + 1] - _SAT_T[i])
    return _SAT_P[i] + slope * (t_c - _SAT_T[i])


def dpsat_dt(t_c: float) -> float:
    """Slope of the saturation line (MPa/K) at ``t_c``: constant within one table segment."""
    i = _segment(t_c)
    return (_SAT_P[i + 1] - _SAT_P[i]) / (_SAT_T[i + 1] - _SAT_T[i])


def lng_saturation_temperature(p_abs_mpa: float) -> float:
    """Saturation temperature (°C) at an absolute pressure (the inverse of the table)."""
    i = min(max(bisect_right(_SAT_P, p_abs_mpa) - 1, 0), len(_SAT_P) - 2)
    slope = (_SAT_T[i + 1] - _SAT_T[i]) / (_SAT_P[i + 1] - _SAT_P[i])
    return _SAT_T[i] + slope * (p_abs_mpa - _SAT_P[i])


def lng_liquid_density(t_c: float) -> float:
    """Saturated liquid density (kg/m³) at ``t_c``; linear between table rows."""
    i = _segment(t_c)
    slope = (_SAT_RHO[i + 1] - _SAT_RHO[i]) / (_SAT_T[i + 1] - _SAT_T[i])
    return _SAT_RHO[i] + slope * (t_c - _SAT_T[i])


def lng_liquid_density_slope(t_c: float) -> float:
    """d(rho_liquid)/dT (kg/m³/K, negative) at ``t_c``."""
    i = _segment(t_c)
    return (_SAT_RHO[i + 1] - _SAT_RHO[i]) / (_SAT_T[i + 1] - _SAT_T[i])


def vapour_density(p_abs_mpa: float, t_c: float) -> float:
    """Methane vapour density (kg/m³) as an ideal gas (Z ≈ 0.9 near saturation is ignored)."""
    return p_abs_mpa * 1e6 * M_KG_MOL / (R_J_MOL_K * (t_c + T0_K))
