"""Level alarms of a tank from its limits: pure rules, one line per alarm.

Overfill and high product compare the whole liquid (product + water) with the tank's full
volume, as the fill pipe sees it; low product and delivery needed compare the product alone.
The leak alarm comes from a failed leak test and probe out from the probe (see ``model``).
"""

from __future__ import annotations

from simulators.tank_gauge.config import TankAlarmLimits
from simulators.tank_gauge.records import TankAlarm


def level_alarms(
    limits: TankAlarmLimits, full_l: float, liquid_l: float, product_l: float, water_mm: float
) -> set[TankAlarm]:
    """The level-based alarms active for these volumes (litres) and this water height (mm)."""
    liquid_pct = 100.0 * liquid_l / full_l
    product_pct = 100.0 * product_l / full_l
    rules = (
        (TankAlarm.HIGH_PRODUCT, liquid_pct >= limits.high_product_pct),
        (TankAlarm.OVERFILL, liquid_pct >= limits.overfill_pct),
        (TankAlarm.DELIVERY_NEEDED, product_pct <= limits.delivery_needed_pct),
        (TankAlarm.LOW_PRODUCT, product_pct <= limits.low_product_pct),
        (TankAlarm.HIGH_WATER, water_mm >= limits.high_water_mm),
        (TankAlarm.HIGH_WATER_WARNING, water_mm >= limits.high_water_warning_mm),
    )
    return {alarm for alarm, active in rules if active}
