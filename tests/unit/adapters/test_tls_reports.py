"""TLS report layouts from byte tables: i201, i202, i203, i205, i101, and data that does not add up."""

from __future__ import annotations

from datetime import datetime

import pytest

from protocol_adapters.tls.codec import MalformedFrame
from protocol_adapters.tls.reports import (
    SystemAlarm,
    TankAlarms,
    TankStatus,
    alarm_name,
    decode_deliveries,
    decode_inventory,
    decode_leak_tests,
    decode_system_status,
    decode_tank_alarms,
)

ONE, TWO, TEN, ZERO = "3F800000", "40000000", "41200000", "00000000"
TANK1 = "011000007" + "4690B800468FAF334633500044E78CCD4141999A41BC000042353333"


def local(text: str) -> datetime:
    return datetime.strptime(text, "%y%m%d%H%M")  # noqa: DTZ007 - console local time, as the decoder gives it


# ---- i201 --------------------------------------------------------------------------------------

def test_inventory_extra_floats_are_skipped_and_probe_out_is_a_status_bit() -> None:
    extra = "031000209" + ONE * 7 + TEN * 2           # NN = 09: two floats more than listed
    probe_out = "022000407" + ZERO * 7
    records = decode_inventory(TANK1 + probe_out + extra)
    assert [r.tank for r in records] == [1, 2, 3]
    assert records[0].volume_l == 18524.0
    assert records[1].status == TankStatus.INVALID_FUEL_HEIGHT and records[1].volume_l == 0.0
    assert records[2].status == TankStatus.LEAK_TEST_IN_PROGRESS
    assert records[2].water_volume_l == 1.0     # the 7th float, not the first extra one


def test_empty_inventory_is_no_tanks() -> None:
    assert decode_inventory("") == []


@pytest.mark.parametrize(("data", "says"), [
    (TANK1[:-1], "data ends"),                            # a float cut short
    (TANK1 + "0", "data ends"),                           # a character left over
    ("011000006" + ONE * 6, "at least 7"),                # fewer floats than listed
    ("0A1000007" + ONE * 7, "decimal digits"),            # tank number is decimal
    ("011G00007" + ONE * 7, "hex digits"),                # status is hex
    ("01100000Z" + ONE * 7, "hex digits"),                # count is hex
    ("011000007" + ONE * 6 + "3F80000G", "hex float"),
])
def test_inventory_that_does_not_add_up(data: str, says: str) -> None:
    with pytest.raises(MalformedFrame, match=says):
        decode_inventory(data)


# ---- i202 --------------------------------------------------------------------------------------

def _delivery(start: str, end: str, start_l: str, end_l: str, count: str = "0A") -> str:
    return start + end + count + start_l + ONE + ZERO + TEN + end_l + TWO + ZERO + TEN + ONE + TWO


def test_deliveries_newest_first_and_a_tank_without_any() -> None:
    newer = _delivery("2601151400", "2601151435", "461C4000", "46BB8000")   # 10000 → 24000 L
    older = _delivery("2601101000", "2601101030", "45FA0000", "461C4000")   # 8000 → 10000 L
    data = "011" + "02" + newer + older + "022" + "00"
    tank1, tank2 = decode_deliveries(data)
    assert (tank1.tank, tank1.product_code, len(tank1.deliveries)) == (1, "1", 2)
    newest = tank1.newest
    assert newest is not None and newest.end == local("2601151435")
    assert newest.start == local("2601151400")
    assert (newest.start_volume_l, newest.end_volume_l, newest.volume_l) == (10000.0, 24000.0, 14000.0)
    assert newest.tc_volume_l == 1.0 and (newest.start_height_mm, newest.end_height_mm) == (1.0, 2.0)
    assert tank1.deliveries[1].volume_l == 2000.0
    assert tank2.deliveries == () and tank2.newest is None


def test_newest_is_by_end_time_even_if_listed_oldest_first() -> None:
    older = _delivery("2601101000", "2601101030", ZERO, ONE)
    newer = _delivery("2601151400", "2601151435", ZERO, TWO)
    (tank,) = decode_deliveries("011" + "02" + older + newer)
    assert tank.newest is not None and tank.newest.end_volume_l == 2.0


@pytest.mark.parametrize(("data", "says"), [
    ("01102" + _delivery("2601151400", "2601151435", ONE, TWO), "data ends"),       # count says 2, 1 sent
    ("01101" + _delivery("2601151400", "2601151435", ONE, TWO, count="09")[:-8], "at least 10"),
    ("01101" + _delivery("2601151400", "2613151435", ONE, TWO), "date and time"),   # month 13
])
def test_deliveries_that_do_not_add_up(data: str, says: str) -> None:
    with pytest.raises(MalformedFrame, match=says):
        decode_deliveries(data)


# ---- i203 --------------------------------------------------------------------------------------

def test_leak_test_with_hourly_changes() -> None:
    data = "021" + "2601150100" + "02" + "06" + TEN + TWO + "461C4000" + "BF400000" + "BF000000" + "BF800000"
    (test,) = decode_leak_tests(data)
    assert (test.tank, test.product_code, test.start, test.duration_h) == (2, "1", local("2601150100"), 2)
    assert (test.start_temperature_c, test.end_temperature_c, test.start_volume_l) == (10.0, 2.0, 10000.0)
    assert test.leak_rate_l_h == -0.75
    assert test.hourly_changes_l == (-0.5, -1.0)


def test_no_finished_leak_test_is_empty_data() -> None:
    assert decode_leak_tests("") == []


def test_leak_test_with_too_few_floats() -> None:
    with pytest.raises(MalformedFrame):
        decode_leak_tests("021" + "2601150100" + "02" + "03" + TEN * 3)


# ---- i205 --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("data", "expected"), [
    # the doc's example (§4.5) prints tank 2 as "020210", two characters short for two alarms
    ("0100" + "02020210", [TankAlarms(1, ()), TankAlarms(2, (2, 10))]),
    ("030309" + "0511", [TankAlarms(3, (9, 5, 11))]),
    ("01010A", [TankAlarms(1, (10,))]),                                         # hex spelling tolerated
    ("", []),
])
def test_tank_alarms(data: str, expected: list[TankAlarms]) -> None:
    assert decode_tank_alarms(data) == expected


@pytest.mark.parametrize("data", ["0102" + "02", "0101" + "0X", "01"])
def test_tank_alarms_that_do_not_add_up(data: str) -> None:
    with pytest.raises(MalformedFrame):
        decode_tank_alarms(data)


def test_alarm_names() -> None:
    assert [alarm_name(n) for n in (2, 3, 9, 10, 11, 99)] == [
        "leak", "high-water", "probe-out", "high-water-warning", "delivery-needed", "tank-alarm-99"]


# ---- i101 --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("data", "expected"), [
    ("000000", []),
    ("020202" + "021002", [SystemAlarm(2, 2, 2), SystemAlarm(2, 10, 2)]),
    ("000000" + "020901", [SystemAlarm(2, 9, 1)]),
])
def test_system_status(data: str, expected: list[SystemAlarm]) -> None:
    assert decode_system_status(data) == expected


@pytest.mark.parametrize("data", ["02020", "0A0202"])
def test_system_status_that_does_not_add_up(data: str) -> None:
    with pytest.raises(MalformedFrame):
        decode_system_status(data)
