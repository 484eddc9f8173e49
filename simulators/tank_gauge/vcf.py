"""Temperature correction of the simulated tank's volumes to 20 °C: the platform's own rule
(``telemetry/contracts/vcf.py``, GB/T 1885 by way of API MPMS 11.1 Table 54B), set up once per product.
"""

from __future__ import annotations

import math

from telemetry.contracts.vcf import alpha15 as thermal_expansion_alpha
from telemetry.contracts.vcf import rho15_from_rho20, vcf15

__all__ = ["VolumeCorrection", "rho15_from_rho20", "thermal_expansion_alpha", "vcf15"]


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
