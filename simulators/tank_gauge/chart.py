"""Tank chart: volume from height (and back) for a horizontal cylinder with flat ends.

``V(h) = L·[R²·acos((R−h)/R) − (R−h)·√(2Rh−h²)]`` (domain reference §2.2). End caps (dished
heads) are not modelled; a real console would use a 4- or 20-point chart instead.
"""

from __future__ import annotations

import math

_MM3_PER_L = 1_000_000.0


class HorizontalCylinder:
    """Chart of one tank. Heights in mm from the bottom, volumes in litres."""

    def __init__(self, diameter_mm: float, length_mm: float) -> None:
        if diameter_mm <= 0 or length_mm <= 0:
            raise ValueError("diameter_mm and length_mm must be > 0")
        self.diameter_mm = diameter_mm
        self.length_mm = length_mm
        self._radius = diameter_mm / 2.0
        self.full_l = math.pi * self._radius**2 * length_mm / _MM3_PER_L

    def volume_l(self, height_mm: float) -> float:
        """Liquid volume below ``height_mm`` (clamped to 0 … diameter)."""
        r = self._radius
        h = min(max(height_mm, 0.0), self.diameter_mm)
        segment = r * r * math.acos((r - h) / r) - (r - h) * math.sqrt(max(2.0 * r * h - h * h, 0.0))
        return self.length_mm * segment / _MM3_PER_L

    def height_mm(self, volume_l: float) -> float:
        """The height at which the tank holds ``volume_l`` (clamped to 0 … full), by bisection."""
        if volume_l <= 0.0:
            return 0.0
        if volume_l >= self.full_l:
            return self.diameter_mm
        low, high = 0.0, self.diameter_mm
        while high - low > 1e-6:
            middle = (low + high) / 2.0
            if self.volume_l(middle) < volume_l:
                low = middle
            else:
                high = middle
        return (low + high) / 2.0
