"""Computer-format record layouts of the TLS reports we speak: encode and decode (pure).

``data`` below is what follows the ``YYMMDDHHmm`` timestamp in a computer-format answer (see
``codec.parse_computer_frame``). Field widths, in characters:

- ``i101``: ``AA NN TT`` triples (all 2 decimal digits); ``000000`` when all is normal;
- ``i201``: per tank ``TT p ssss NN`` + NN floats (ssss and NN hex): volume, TC volume, ullage,
  height, water height, temperature, water volume;
- ``i202``: per tank ``TT p dd`` then dd deliveries, each ``YYMMDDHHmm YYMMDDHHmm NN`` + NN
  floats: start volume, start TC volume, start water, start temperature, end volume, end TC
  volume, end water, end temperature, start height, end height;
- ``i203``: per tank with a finished test ``TT p YYMMDDHHmm HH NN`` + NN floats: start
  temperature, end temperature, start volume, leak rate, then the cumulative change per hour;
- ``i205``: per tank ``TT nn`` + nn alarm numbers (nn hex, alarm numbers 2 decimal digits);
- ``i206``: per tank ``TT nn`` + nn × ``YYMMDDHHmm aaaa`` (nn hex, aaaa 4 hex digits).

Decoders read each count (``NN``, ``dd``, ``nn``) to size what follows, skip floats beyond the
ones they know (a newer console may send more), and raise ``MalformedFrameError`` on short or
non-hex data.
"""

from __future__ import annotations

from datetime import tzinfo

from simulators.tank_gauge.codec import decode_float, decode_timestamp, encode_float, encode_timestamp
from simulators.tank_gauge.errors import MalformedFrameError
from simulators.tank_gauge.records import (
    ALARM_CATEGORY_ALL_NORMAL,
    AlarmEvent,
    DeliveryRecord,
    LeakTestResult,
    SystemAlarm,
    TankReading,
    TankStatus,
)

INVENTORY_FLOATS = 7
DELIVERY_FLOATS = 10
LEAK_TEST_FIXED_FLOATS = 4


class _Cursor:
    """Reads fixed-width fields off the data string, failing cleanly when it runs short."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._at = 0

    @property
    def done(self) -> bool:
        return self._at >= len(self._text)

    def take(self, width: int) -> str:
        if self._at + width > len(self._text):
            raise MalformedFrameError(f"data ends at {len(self._text)}, expected {width} more from {self._at}")
        field = self._text[self._at : self._at + width]
        self._at += width
        return field

    def number(self, width: int, base: int = 10) -> int:
        field = self.take(width)
        try:
            return int(field, base)
        except ValueError as error:
            raise MalformedFrameError(f"expected a base-{base} number, got {field!r}") from error

    def floats(self, count: int) -> list[float]:
        return [decode_float(self.take(8)) for _ in range(count)]


def _floats(values: list[float]) -> str:
    return f"{len(values):02X}" + "".join(encode_float(value) for value in values)


# ---- i101 system status -------------------------------------------------------------------------


def encode_system_status(alarms: list[SystemAlarm]) -> str:
    if not alarms:
        return "000000"
    return "".join(f"{a.category:02d}{a.alarm_type:02d}{a.tank:02d}" for a in alarms)


def decode_system_status(data: str) -> list[SystemAlarm]:
    """Active alarms; an all-normal answer (category 00) gives an empty list."""
    cursor, alarms = _Cursor(data), []
    while not cursor.done:
        alarm = SystemAlarm(cursor.number(2), cursor.number(2), cursor.number(2))
        if alarm.category != ALARM_CATEGORY_ALL_NORMAL:
            alarms.append(alarm)
    return alarms


# ---- i201 inventory -----------------------------------------------------------------------------


def encode_inventory(readings: list[TankReading]) -> str:
    return "".join(
        f"{r.tank:02d}{r.product_code}{int(r.status):04X}"
        + _floats([r.volume_l, r.tc_volume_l, r.ullage_l, r.height_mm, r.water_mm, r.temperature_c,
                   r.water_volume_l])
        for r in readings
    )


def decode_inventory(data: str) -> list[TankReading]:
    cursor, readings = _Cursor(data), []
    while not cursor.done:
        tank, product, status = cursor.number(2), cursor.take(1), cursor.number(4, 16)
        values = cursor.floats(cursor.number(2, 16))
        if len(values) < INVENTORY_FLOATS:
            raise MalformedFrameError(f"tank {tank}: {len(values)} inventory floats, expected ≥ 7")
        readings.append(TankReading(tank, product, TankStatus(status), *values[:INVENTORY_FLOATS]))
    return readings


# ---- i202 deliveries ----------------------------------------------------------------------------


def encode_deliveries(tanks: list[tuple[int, str, list[DeliveryRecord]]], tz: tzinfo) -> str:
    """``tanks`` is (tank, product code, deliveries newest first) for each tank asked for."""
    parts = []
    for tank, product, deliveries in tanks:
        parts.append(f"{tank:02d}{product}{len(deliveries):02X}")
        for d in deliveries:
            parts.append(encode_timestamp(d.start, tz) + encode_timestamp(d.end, tz) + _floats([
                d.start_volume_l, d.start_tc_volume_l, d.start_water_mm, d.start_temperature_c,
                d.end_volume_l, d.end_tc_volume_l, d.end_water_mm, d.end_temperature_c,
                d.start_height_mm, d.end_height_mm,
            ]))
    return "".join(parts)


def decode_deliveries(data: str, tz: tzinfo) -> list[DeliveryRecord]:
    cursor, deliveries = _Cursor(data), []
    while not cursor.done:
        tank, product, count = cursor.number(2), cursor.take(1), cursor.number(2, 16)
        for _ in range(count):
            start, end = decode_timestamp(cursor.take(10), tz), decode_timestamp(cursor.take(10), tz)
            values = cursor.floats(cursor.number(2, 16))
            if len(values) < DELIVERY_FLOATS:
                raise MalformedFrameError(f"tank {tank}: {len(values)} delivery floats, expected ≥ 10")
            deliveries.append(DeliveryRecord(tank, product, start, end, *values[:DELIVERY_FLOATS]))
    return deliveries


# ---- i203 leak tests ----------------------------------------------------------------------------


def encode_leak_tests(results: list[LeakTestResult], tz: tzinfo) -> str:
    return "".join(
        f"{r.tank:02d}{r.product_code}{encode_timestamp(r.start, tz)}{r.duration_h:02d}"
        + _floats([r.start_temperature_c, r.end_temperature_c, r.start_volume_l, r.leak_rate_l_h,
                   *r.hourly_changes_l])
        for r in results
    )


def decode_leak_tests(data: str, tz: tzinfo) -> list[LeakTestResult]:
    cursor, results = _Cursor(data), []
    while not cursor.done:
        tank, product = cursor.number(2), cursor.take(1)
        start, duration = decode_timestamp(cursor.take(10), tz), cursor.number(2)
        values = cursor.floats(cursor.number(2, 16))
        if len(values) < LEAK_TEST_FIXED_FLOATS:
            raise MalformedFrameError(f"tank {tank}: {len(values)} leak test floats, expected ≥ 4")
        results.append(LeakTestResult(tank, product, start, duration, values[0], values[1], values[2],
                                      values[3], tuple(values[LEAK_TEST_FIXED_FLOATS:])))
    return results


# ---- i205 active tank alarms --------------------------------------------------------------------


def encode_tank_alarms(tanks: list[tuple[int, list[int]]]) -> str:
    return "".join(f"{tank:02d}{len(alarms):02X}" + "".join(f"{a:02d}" for a in alarms) for tank, alarms in tanks)


def decode_tank_alarms(data: str) -> dict[int, list[int]]:
    cursor, tanks = _Cursor(data), {}
    while not cursor.done:
        tank, count = cursor.number(2), cursor.number(2, 16)
        tanks[tank] = [cursor.number(2) for _ in range(count)]
    return tanks


# ---- i206 alarm history -------------------------------------------------------------------------


def encode_alarm_history(tanks: list[tuple[int, list[AlarmEvent]]], tz: tzinfo) -> str:
    return "".join(
        f"{tank:02d}{len(events):02X}" + "".join(f"{encode_timestamp(e.at, tz)}{e.alarm:04X}" for e in events)
        for tank, events in tanks
    )


def decode_alarm_history(data: str, tz: tzinfo) -> list[AlarmEvent]:
    cursor, events = _Cursor(data), []
    while not cursor.done:
        tank, count = cursor.number(2), cursor.number(2, 16)
        for _ in range(count):
            at = decode_timestamp(cursor.take(10), tz)
            events.append(AlarmEvent(tank, cursor.number(4, 16), at))
    return events
