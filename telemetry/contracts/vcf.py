"""Volume correction of petroleum liquids to 20 °C (China: GB/T 1885-1998 石油计量表), pure.

The factor to 15 °C follows API MPMS 11.1 / ASTM D1250 Table 54B:
``VCF15(T) = exp(−α·ΔT·(1 + 0.8·α·ΔT))``, ``ΔT = T − 15``, ``α = K0/ρ15² + K1/ρ15`` by density band.
China states volumes at 20 °C, so ``VCF20(T) = VCF15(T) / VCF15(20)``; Chinese documents give the standard
density ρ20, so ρ15 is found first by iterating ``ρ15 = ρ20 / VCF15(20; ρ15)`` (domain.md §2.2).

The equivalence with the printed GB/T 1885 tables is the reference's computation, not a check against the
printed book (domain.md §6): the unit tests hold the values domain.md lists. Shared by every plane that
corrects a volume (business_services/inventory, leak detection) and by the tank-gauge simulator.
"""

from __future__ import annotations

import math
from functools import lru_cache

#: Standard densities ρ20 (kg/m³) used when nothing better is known (a delivery note gives its own).
DEFAULT_DENSITY_20: dict[str, float] = {"92": 737.0, "95": 745.0, "98": 750.0, "0": 835.0}


def alpha15(rho15: float) -> float:
    """Thermal expansion coefficient α (1/°C) at 15 °C for a product of density ``rho15`` (Table 54B bands)."""
    if rho15 < 770.5:                                      # gasolines
        return 346.4228 / rho15**2 + 0.4388 / rho15
    if rho15 < 787.5:                                      # transition zone
        return -0.00336312 + 2680.3206 / rho15**2
    if rho15 < 838.5:                                      # jet fuels
        return 594.5418 / rho15**2
    return 186.9696 / rho15**2 + 0.4862 / rho15            # fuel oils (diesel)


def vcf15(temperature_c: float, rho15: float) -> float:
    """The factor that turns a volume at ``temperature_c`` into one at 15 °C."""
    alpha = alpha15(rho15)
    delta = temperature_c - 15.0
    return math.exp(-alpha * delta * (1.0 + 0.8 * alpha * delta))


@lru_cache(maxsize=256)
def rho15_from_rho20(rho20: float) -> float:
    """ρ15 of a product whose standard density at 20 °C is ``rho20`` (fixed-point iteration)."""
    rho15 = rho20
    for _ in range(50):
        updated = rho20 / vcf15(20.0, rho15)
        if abs(updated - rho15) < 1e-9:
            return updated
        rho15 = updated
    return rho15


def vcf20(temperature_c: float, rho20: float) -> float:
    """The factor that turns litres at ``temperature_c`` into litres at 20 °C, for a product of density ρ20."""
    if not 600.0 <= rho20 <= 1100.0:
        raise ValueError(f"标准密度应在 600–1100 kg/m³ 之间 (ρ20 {rho20} out of range)")
    if not -40.0 <= temperature_c <= 80.0:
        raise ValueError(f"油温应在 −40–80 °C 之间 (temperature {temperature_c} out of range)")
    rho15 = rho15_from_rho20(rho20)
    return vcf15(temperature_c, rho15) / vcf15(20.0, rho15)


def litres_at_20(litres: float, temperature_c: float, rho20: float) -> float:
    """``litres`` measured at ``temperature_c``, stated at 20 °C."""
    return litres * vcf20(temperature_c, rho20)
