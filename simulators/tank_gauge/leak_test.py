"""Static in-tank leak test (what ``i203`` reports): watch the 20 °C volume for whole hours.

With nothing sold or delivered, the temperature-compensated volume of a tight tank stays put;
its change per hour is the leak rate (negative for a loss). The cumulative change is kept for
each hour. The tank aborts the test on a sale, a delivery or a probe fault.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from simulators.tank_gauge.records import LeakTestResult


@dataclass(slots=True)
class LeakTest:
    """A test in progress, fed one physics step at a time."""

    tank: int
    product_code: str
    start: datetime
    duration_h: int
    start_temperature_c: float
    start_volume_l: float
    start_tc_l: float
    elapsed_s: float = 0.0
    hourly_changes_l: list[float] = field(default_factory=list)

    def step(self, seconds: float, tc_volume_l: float, temperature_c: float) -> LeakTestResult | None:
        """Account ``seconds`` more with the gauge's present TC volume; the result once finished."""
        self.elapsed_s += seconds
        if self.elapsed_s + 1e-9 >= 3600.0 * (len(self.hourly_changes_l) + 1):
            self.hourly_changes_l.append(tc_volume_l - self.start_tc_l)
        if len(self.hourly_changes_l) < self.duration_h:
            return None
        return LeakTestResult(
            self.tank, self.product_code, self.start, self.duration_h, self.start_temperature_c,
            temperature_c, self.start_volume_l, (tc_volume_l - self.start_tc_l) / self.duration_h,
            tuple(self.hourly_changes_l),
        )
