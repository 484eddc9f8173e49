"""Plain value records of a tank gauge: readings, deliveries, leak tests, alarms.

These are the values the physics model produces and the TLS codec puts on (or reads from) the
wire, in metric units: litres, millimetres, °C, UTC datetimes. They hold no protocol detail, so
an edge adapter can map them into the platform's canonical tank reading without this package.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum, IntFlag


class TankStatus(IntFlag):
    """Tank status bits of the ``i201`` inventory record (``ssss``, 4 hex digits)."""

    NONE = 0
    DELIVERY_IN_PROGRESS = 0x0001
    LEAK_TEST_IN_PROGRESS = 0x0002
    INVALID_FUEL_HEIGHT = 0x0004


class TankAlarm(IntEnum):
    """Tank alarm type numbers of the TLS manual (category 02, "tank").

    The same number is written as 2 decimal digits in ``i101``/``i205`` and as 4 hex digits in
    ``i206``: ``HIGH_WATER_WARNING`` is ``10`` in the first two and ``000A`` in the last.
    """

    LEAK = 2
    HIGH_WATER = 3
    OVERFILL = 4
    LOW_PRODUCT = 5
    HIGH_PRODUCT = 7
    INVALID_FUEL_LEVEL = 8
    PROBE_OUT = 9
    HIGH_WATER_WARNING = 10
    DELIVERY_NEEDED = 11


ALARM_CATEGORY_ALL_NORMAL = 0
ALARM_CATEGORY_TANK = 2


@dataclass(frozen=True, slots=True)
class TankReading:
    """One in-tank inventory reading (the seven ``i201`` floats plus identity and status)."""

    tank: int
    product_code: str
    status: TankStatus
    volume_l: float
    tc_volume_l: float
    ullage_l: float
    height_mm: float
    water_mm: float
    temperature_c: float
    water_volume_l: float


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """One delivery (a tanker drop) as the gauge saw it: before the rise and after settling."""

    tank: int
    product_code: str
    start: datetime
    end: datetime
    start_volume_l: float
    start_tc_volume_l: float
    start_water_mm: float
    start_temperature_c: float
    end_volume_l: float
    end_tc_volume_l: float
    end_water_mm: float
    end_temperature_c: float
    start_height_mm: float
    end_height_mm: float

    @property
    def volume_l(self) -> float:
        """Gross litres delivered as the gauge measured them."""
        return self.end_volume_l - self.start_volume_l

    @property
    def tc_volume_l(self) -> float:
        """Litres delivered, corrected to 20 °C."""
        return self.end_tc_volume_l - self.start_tc_volume_l


@dataclass(frozen=True, slots=True)
class LeakTestResult:
    """A finished in-tank (static) leak test. Volumes are corrected to 20 °C; a loss is negative."""

    tank: int
    product_code: str
    start: datetime
    duration_h: int
    start_temperature_c: float
    end_temperature_c: float
    start_volume_l: float
    leak_rate_l_h: float
    hourly_changes_l: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class AlarmEvent:
    """A tank alarm that became active at ``at`` (one line of the ``i206`` history)."""

    tank: int
    alarm: int
    at: datetime


@dataclass(frozen=True, slots=True)
class SystemAlarm:
    """One ``AA NN TT`` triple of the ``i101`` system status report."""

    category: int
    alarm_type: int
    tank: int
