"""Charging power physics: what a charger offers and what an EV takes at a given state of charge.

Frozen power profiles (one line per charger type) and pure functions; no clock, no I/O.

- AC: the on-board charger draws ``min(charger current, EV limit / V)`` at the grid voltage; above
  ``taper_start_soc_pct`` the current falls linearly to ``taper_end_fraction`` at 100 % (CV phase).
- DC: the charger delivers ``min(charger kW, EV kW, max current x pack voltage)``; the pack voltage
  rises with SoC (0.92..1.08 x nominal) and the power tapers the same way above the taper start.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from simulators.charger.config import EvProfile

CurrentType = Literal["AC", "DC"]


@dataclass(frozen=True)
class PowerProfile:
    """What one charger type can deliver."""

    name: str
    current_type: CurrentType
    max_power_kw: float
    max_current_a: float
    taper_start_soc_pct: float
    taper_end_fraction: float


PROFILES: dict[str, PowerProfile] = {
    "ac7": PowerProfile("ac7", "AC", 7.04, 32.0, taper_start_soc_pct=95.0, taper_end_fraction=0.3),
    "dc60": PowerProfile("dc60", "DC", 60.0, 200.0, taper_start_soc_pct=50.0, taper_end_fraction=0.15),
    "dc120": PowerProfile("dc120", "DC", 120.0, 300.0, taper_start_soc_pct=50.0, taper_end_fraction=0.15),
}


@dataclass(frozen=True)
class PowerPoint:
    """Instantaneous electrical values at the charger's meter."""

    power_kw: float
    current_a: float
    voltage_v: float


def taper_fraction(profile: PowerProfile, soc_pct: float) -> float:
    """1.0 up to the taper start, then linear down to ``taper_end_fraction`` at 100 % SoC."""
    start = profile.taper_start_soc_pct
    if soc_pct <= start:
        return 1.0
    progress = min(1.0, (soc_pct - start) / (100.0 - start))
    return 1.0 - (1.0 - profile.taper_end_fraction) * progress


def pack_voltage_v(ev: EvProfile, soc_pct: float) -> float:
    """DC output voltage follows the battery: 92 % of nominal when empty, 108 % when full."""
    return ev.pack_voltage_v * (0.92 + 0.16 * soc_pct / 100.0)


def charging_point(profile: PowerProfile, ev: EvProfile, soc_pct: float, grid_voltage_v: float) -> PowerPoint:
    """Power, current and voltage while the EV is charging at ``soc_pct``."""
    taper = taper_fraction(profile, soc_pct)
    if profile.current_type == "AC":
        current = min(profile.max_current_a, ev.max_ac_kw * 1000.0 / grid_voltage_v) * taper
        return PowerPoint(grid_voltage_v * current / 1000.0, current, grid_voltage_v)
    voltage = pack_voltage_v(ev, soc_pct)
    power = min(profile.max_power_kw, ev.max_dc_kw, profile.max_current_a * voltage / 1000.0) * taper
    return PowerPoint(power, power * 1000.0 / voltage, voltage)


def idle_point(profile: PowerProfile, grid_voltage_v: float, powered: bool) -> PowerPoint:
    """No current: an AC meter still sees the grid voltage; a DC output is switched off."""
    voltage = grid_voltage_v if powered and profile.current_type == "AC" else 0.0
    return PowerPoint(0.0, 0.0, voltage)


def soc_gain_pct(ev: EvProfile, metered_kwh: float) -> float:
    """State-of-charge points gained from ``metered_kwh`` after charging losses."""
    return metered_kwh * ev.efficiency / ev.battery_kwh * 100.0
