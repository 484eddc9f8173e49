"""Computer-format record layouts: the verified i201 example, and each report both ways."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from simulators.tank_gauge import reports
from simulators.tank_gauge.codec import parse_computer_frame
from simulators.tank_gauge.errors import MalformedFrameError
from simulators.tank_gauge.records import (
    AlarmEvent,
    DeliveryRecord,
    LeakTestResult,
    SystemAlarm,
    TankAlarm,
    TankReading,
    TankStatus,
)

CST = timezone(timedelta(hours=8))
VERIFIED_FRAME = (
    b"\x01i201002501151430"
    b"0110000074690B800468FAF334633500044E78CCD4141999A41BC000042353333"
    b"022000107460CA000460C00CD46A41000447F00000000000041A8000000000000"
    b"&&E1A0\x03"
)
TANK_1 = TankReading(1, "1", TankStatus.NONE, 18524.0, 18391.6, 11476.0, 1852.4, 12.1, 23.5, 45.3)
TANK_2 = TankReading(2, "2", TankStatus.DELIVERY_IN_PROGRESS, 9000.0, 8960.2, 21000.0, 1020.0, 0.0, 21.0, 0.0)


def _close(a: float, b: float) -> bool:
    return a == pytest.approx(b, rel=1e-6, abs=1e-6)


def test_verified_inventory_frame_decodes_to_its_values() -> None:
    decoded = reports.decode_inventory(parse_computer_frame(VERIFIED_FRAME).data)
    assert [r.tank for r in decoded] == [1, 2]
    assert [r.status for r in decoded] == [TankStatus.NONE, TankStatus.DELIVERY_IN_PROGRESS]
    for got, want in zip(decoded, [TANK_1, TANK_2], strict=True):
        assert got.product_code == want.product_code
        for field in ("volume_l", "tc_volume_l", "ullage_l", "height_mm", "water_mm", "temperature_c",
                      "water_volume_l"):
            assert _close(getattr(got, field), getattr(want, field)), field


def test_inventory_encodes_to_the_verified_data() -> None:
    assert reports.encode_inventory([TANK_1, TANK_2]) == VERIFIED_FRAME[17:-7].decode("ascii")


def test_inventory_decoder_sizes_records_by_nn_and_skips_extra_floats() -> None:
    data = reports.encode_inventory([TANK_1])
    eight = data[:7] + "08" + data[9:] + "3F800000"  # a console that sends one float more
    assert reports.decode_inventory(eight + data)[0].tank == 1
    assert len(reports.decode_inventory(eight + data)) == 2


@pytest.mark.parametrize("cut", [3, 10, 60])
def test_inventory_decoder_refuses_short_data(cut: int) -> None:
    with pytest.raises(MalformedFrameError):
        reports.decode_inventory(reports.encode_inventory([TANK_1])[:cut])


def test_inventory_decoder_refuses_fewer_than_seven_floats() -> None:
    data = "011000006" + "00000000" * 6
    with pytest.raises(MalformedFrameError):
        reports.decode_inventory(data)


def test_system_status_all_normal_and_decimal_alarm_numbers() -> None:
    assert reports.encode_system_status([]) == "000000"
    assert reports.decode_system_status("000000") == []
    alarms = [SystemAlarm(2, int(TankAlarm.HIGH_WATER_WARNING), 1), SystemAlarm(2, 9, 12)]
    assert reports.encode_system_status(alarms) == "021001" + "020912"
    assert reports.decode_system_status("021001020912") == alarms


def test_tank_alarms_use_hex_count_and_decimal_numbers() -> None:
    rows = [(1, [3, 10]), (2, [])]
    assert reports.encode_tank_alarms(rows) == "0102" + "0310" + "0200"
    assert reports.decode_tank_alarms("010203100200") == {1: [3, 10], 2: []}


def test_alarm_history_uses_4_hex_digit_numbers() -> None:
    at = datetime(2026, 1, 15, 6, 30, tzinfo=UTC)
    events = [AlarmEvent(1, int(TankAlarm.HIGH_WATER_WARNING), at), AlarmEvent(1, 9, at)]
    data = reports.encode_alarm_history([(1, events), (2, [])], CST)
    assert data == "0102" + "2601151430000A" + "26011514300009" + "0200"
    assert reports.decode_alarm_history(data, CST) == events


def test_deliveries_round_trip() -> None:
    start = datetime(2026, 1, 15, 1, 0, tzinfo=UTC)
    delivery = DeliveryRecord(1, "1", start, start + timedelta(minutes=25), 17998.0, 18044.0, 0.0, 17.9,
                              25997.0, 26025.0, 0.0, 19.125, 1504.9, 2103.0)
    data = reports.encode_deliveries([(1, "1", [delivery]), (2, "2", [])], CST)
    assert data.startswith("01101" + "2601150900" + "2601150925" + "0A")
    assert data.endswith("2200")
    decoded = reports.decode_deliveries(data, CST)
    assert len(decoded) == 1
    assert decoded[0].start == delivery.start and decoded[0].end == delivery.end
    assert _close(decoded[0].end_temperature_c, 19.125)
    assert decoded[0].volume_l == pytest.approx(7999.0, abs=0.01)


def test_leak_test_round_trip_with_hourly_changes() -> None:
    result = LeakTestResult(3, "3", datetime(2026, 1, 15, 18, 0, tzinfo=UTC), 3, 16.5, 16.25, 20000.0,
                            -0.5, (-0.5, -1.0, -1.5))
    data = reports.encode_leak_tests([result], CST)
    assert data[:15] == "033" + "2601160200" + "03"
    assert data[15:17] == "07"  # 4 fixed floats + 3 hours
    decoded = reports.decode_leak_tests(data, CST)[0]
    assert decoded.duration_h == 3
    assert decoded.leak_rate_l_h == -0.5
    assert decoded.hourly_changes_l == (-0.5, -1.0, -1.5)
