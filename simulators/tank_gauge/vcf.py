"""Temperature correction of petroleum volumes to 20 °C (China, GB/T 1885 approach).

API MPMS 11.1 / ASTM D1250 Table 54B gives the factor to 15 °C:
``VCF15(T) = exp(−α·ΔT·(1 + 0.8·α·ΔT))`` with ``ΔT = T − 15`` and ``α = K0/ρ15² + K1/ρ15``
(coefficients by density band). China reports at 20 °C, so ``VCF20(T) = VCF15(T) / VCF15(20)``.
Delivery notes give ρ20, so ρ15 is found first by iterating ``ρ15 = ρ20 / VCF15(20; ρ15)``.
"""

from __future__ import annotations

import math


def thermal_expansion_alpha(rho15: float) -> float:
    """Coefficient α (1/°C) at 15 °C for a product of density ``rho15`` (kg/m³), Table 54B bands."""
    if rho15 < 770.5:  # gasolines
        return 346.4228 / rho15**2 + 0.4388 / rho15
    if rho15 < 787.5:  # transition zone
        return -0.00336312 + 2680.3206 / rho15**2
    if rho15 < 838.5:  # jet fuels
        return 594.5418 / rho15**2
    return 186.9696 / rho15**2 + 0.4862 / rho15  # fuel oils (diesel)


def vcf15(temperature_c: float, rho15: float) -> float:
    """Volume correction factor from ``temperature_c`` to 15 °C."""
    alpha = thermal_expansion_alpha(rho15)
    delta = temperature_c - 15.0
    return math.exp(-alpha * delta * (1.0 + 0.8 * alpha * delta))


def rho15_from_rho20(rho20: float) -> float:
    """Density at 15 °C of a product whose standard density at 20 °C is ``rho20``."""
    rho15 = rho20
    for _ in range(50):
        updated = rho20 / vcf15(20.0, rho15)
        if abs(updated - rho15) < 1e-9:
            return updated
        rho15 = updated
    return rho15


class VolumeCorrection:
    """VCF20 for one product, set up once from its ρ20 (kg/m³)."""

    def __init__(self, density_20: float) -> None:
        self.density_20 = density_20
        self.rho15 = rho15_from_rho20(density_20)
        self._alpha = thermal_expansion_alpha(self.rho15)
        self._at_20 = vcf15(20.0, self.rho15)

    def vcf20(self, temperature_c: float) -> float:
        """Factor that turns litres at ``temperature_c`` into litres at 20 °C."""
        delta = temperature_c - 15.0
        at_t = math.exp(-self._alpha * delta * (1.0 + 0.8 * self._alpha * delta))
        return at_t / self._at_20
