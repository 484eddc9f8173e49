"""Decoders of TLS report data (the part between the header and ``&&``) into typed records, pure.

Units are metric as the console sends them: litres, millimetres, °C, litres per hour. Timestamps
are the console's local time (naive datetimes); converting them is the caller's job. Every record
is sized by its own count fields, extra floats are skipped, and anything that does not add up
(data ending early, characters left over, a letter where a digit belongs) raises ``MalformedFrame``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import IntFlag

from protocol_adapters.tls.codec import MalformedFrame, hex_float, parse_timestamp

INVENTORY_FLOATS = 7
DELIVERY_FLOATS = 10
LEAK_TEST_FLOATS = 4

ALARM_NAMES = {1: "setup-warning", 2: "leak", 3: "high-water", 4: "overfill", 5: "low-product",
               6: "sudden-loss", 7: "high-product", 8: "invalid-fuel-level", 9: "probe-out",
               10: "high-water-warning", 11: "delivery-needed", 12: "max-product"}
SENSOR_FAULT_ALARMS = frozenset({8, 9})   # the level reading cannot be trusted


def alarm_name(number: int) -> str:
    """The name of a tank alarm type number (``10`` → ``high-water-warning``)."""
    return ALARM_NAMES.get(number, f"tank-alarm-{number}")


class TankStatus(IntFlag):
    """The ``ssss`` bits of an ``i201`` inventory record."""

    NONE = 0
    DELIVERY_IN_PROGRESS = 0x0001
    LEAK_TEST_IN_PROGRESS = 0x0002
    INVALID_FUEL_HEIGHT = 0x0004   # the probe is out: the floats are zeros, not a reading


@dataclass(frozen=True, slots=True)
class Inventory:
    """One tank of an ``i201`` in-tank inventory."""

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
class Delivery:
    """One completed delivery (tanker drop) of an ``i202`` report."""

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
        """Gross litres delivered as the gauge measured them (sales during the drop reduce it)."""
        return self.end_volume_l - self.start_volume_l

    @property
    def tc_volume_l(self) -> float:
        return self.end_tc_volume_l - self.start_tc_volume_l


@dataclass(frozen=True, slots=True)
class TankDeliveries:
    """The deliveries of one tank, as listed (the console lists the newest first)."""

    tank: int
    product_code: str
    deliveries: tuple[Delivery, ...]

    @property
    def newest(self) -> Delivery | None:
        return max(self.deliveries, key=lambda d: d.end, default=None)


@dataclass(frozen=True, slots=True)
class LeakTest:
    """The last finished in-tank leak test of one tank (``i203``); a loss has a negative rate."""

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
class TankAlarms:
    """The active alarm type numbers of one tank (``i205``)."""

    tank: int
    alarms: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class SystemAlarm:
    """One ``AA NN TT`` triple of the ``i101`` system status (category ``02`` = tank)."""

    category: int
    alarm_type: int
    tank: int


class _Fields:
    """Reads fixed-width fields off report data, naming what was expected when it does not fit."""

    def __init__(self, data: str, report: str) -> None:
        self._data = data
        self._at = 0
        self._report = report

    @property
    def done(self) -> bool:
        return self._at >= len(self._data)

    def take(self, width: int, what: str) -> str:
        end = self._at + width
        if end > len(self._data):
            raise MalformedFrame(f"{self._report}: data ends at {len(self._data)} chars, "
                                 f"expected {what} ({width} chars) at {self._at}")
        text = self._data[self._at : end]
        self._at = end
        return text

    def decimal(self, width: int, what: str) -> int:
        text = self.take(width, what)
        if not (text.isascii() and text.isdigit()):
            raise MalformedFrame(f"{self._report}: {what} should be {width} decimal digits, got {text!r}")
        return int(text)

    def hex(self, width: int, what: str) -> int:
        text = self.take(width, what)
        try:
            return int(text, 16)
        except ValueError:
            raise MalformedFrame(f"{self._report}: {what} should be {width} hex digits, got {text!r}") from None

    def timestamp(self, what: str) -> datetime:
        return parse_timestamp(self.take(10, what))

    def floats(self, at_least: int, what: str) -> tuple[float, ...]:
        """An ``NN`` count (hex) and that many floats; fewer than ``at_least`` is an error."""
        count = self.hex(2, f"{what} float count")
        if count < at_least:
            raise MalformedFrame(f"{self._report}: {what} has {count} floats, expected at least {at_least}")
        return tuple(hex_float(self.take(8, f"{what} float")) for _ in range(count))


def decode_inventory(data: str) -> list[Inventory]:
    """``i201``: per tank ``TT p ssss NN`` and NN floats."""
    fields, out = _Fields(data, "i201"), []
    while not fields.done:
        tank = fields.decimal(2, "tank number")
        product = fields.take(1, "product code")
        status = TankStatus(fields.hex(4, "tank status") & 0x0007)
        v = fields.floats(INVENTORY_FLOATS, f"tank {tank}")
        out.append(Inventory(tank, product, status, *v[:INVENTORY_FLOATS]))
    return out


def decode_deliveries(data: str) -> list[TankDeliveries]:
    """``i202``: per tank ``TT p dd``, then dd × (start, end, NN floats)."""
    fields, out = _Fields(data, "i202"), []
    while not fields.done:
        tank = fields.decimal(2, "tank number")
        product = fields.take(1, "product code")
        count = fields.hex(2, "delivery count")
        deliveries = []
        for _ in range(count):
            start = fields.timestamp("delivery start")
            end = fields.timestamp("delivery end")
            v = fields.floats(DELIVERY_FLOATS, f"tank {tank} delivery")
            deliveries.append(Delivery(start, end, *v[:DELIVERY_FLOATS]))
        out.append(TankDeliveries(tank, product, tuple(deliveries)))
    return out


def decode_leak_tests(data: str) -> list[LeakTest]:
    """``i203``: per tank with a finished test ``TT p start HH NN`` and 4 + HH floats."""
    fields, out = _Fields(data, "i203"), []
    while not fields.done:
        tank = fields.decimal(2, "tank number")
        product = fields.take(1, "product code")
        start = fields.timestamp("test start")
        hours = fields.decimal(2, "test duration")
        v = fields.floats(LEAK_TEST_FLOATS, f"tank {tank} leak test")
        out.append(LeakTest(tank, product, start, hours, v[0], v[1], v[2], v[3],
                            v[LEAK_TEST_FLOATS : LEAK_TEST_FLOATS + hours]))
    return out


def decode_tank_alarms(data: str) -> list[TankAlarms]:
    """``i205``: per tank ``TT nn`` and nn alarm numbers of 2 characters each.

    The numbers are decimal as in ``i101`` (``10`` = high-water warning); a console that writes
    them in hex (``0A``) is understood too, since a letter cannot be decimal.
    """
    fields, out = _Fields(data, "i205"), []
    while not fields.done:
        tank = fields.decimal(2, "tank number")
        count = fields.hex(2, "alarm count")
        alarms = []
        for _ in range(count):
            text = fields.take(2, "alarm number")
            try:
                alarms.append(int(text, 10) if text.isdigit() else int(text, 16))
            except ValueError:
                raise MalformedFrame(f"i205: alarm number should be 2 digits, got {text!r}") from None
        out.append(TankAlarms(tank, tuple(alarms)))
    return out


def decode_system_status(data: str) -> list[SystemAlarm]:
    """``i101``: ``AA NN TT`` triples of decimal digits; category ``00`` (all normal) is dropped."""
    fields, out = _Fields(data, "i101"), []
    while not fields.done:
        category = fields.decimal(2, "alarm category")
        alarm_type = fields.decimal(2, "alarm type")
        tank = fields.decimal(2, "tank number")
        if category:
            out.append(SystemAlarm(category, alarm_type, tank))
    return out
