"""From decoded TLS records to the tank's metrics: values, probe-out, alarms, the newest delivery."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from protocol_adapters.tls.points import NO_DELIVERY, TANK_POINTS, alarm_text, tank_points, tank_readings
from protocol_adapters.tls.reports import Delivery, Inventory, TankDeliveries, TankStatus
from telemetry.contracts.quality import Quality
from telemetry.contracts.sparkplug import DataType

AT = datetime(2026, 1, 15, 6, 31, tzinfo=UTC)
SHANGHAI = ZoneInfo("Asia/Shanghai")
GOOD = Inventory(1, "1", TankStatus.NONE, 18524.0, 18391.6, 11476.0, 1852.4, 12.1, 23.5, 45.3)


def _delivery(end: datetime, start_l: float, end_l: float) -> Delivery:
    return Delivery(end, end, start_l, start_l, 0.0, 20.0, end_l, end_l, 0.0, 20.0, 800.0, 1500.0)


def _by_key(inventory: Inventory, alarms: tuple[int, ...] = (), deliveries: TankDeliveries | None = None,
            tank: int = 1) -> dict[str, tuple[object, Quality, str]]:
    readings = tank_readings(tank, inventory, alarms, deliveries, SHANGHAI, AT)
    assert all(r.source_time == AT for r in readings)
    return {r.key: (r.value, r.quality, r.reason) for r in readings}


def test_every_tank_has_the_same_twelve_metrics_with_units() -> None:
    points = tank_points([1, 3])
    assert len(points) == 2 * len(TANK_POINTS) == 24
    assert points["tank3/volume"].unit == "L" and points["tank3/height"].unit == "mm"
    assert points["tank1/temperature"].unit == "°C"
    assert points["tank1/alarms"].datatype is DataType.STRING
    assert points["tank1/delivery_in_progress"].datatype is DataType.BOOLEAN
    assert points["tank1/last_delivery_end"].datatype is DataType.INT64


def test_a_good_reading() -> None:
    values = _by_key(GOOD)
    assert set(values) == set(tank_points([1]))
    assert values["tank1/volume"] == (18524.0, Quality.GOOD, "")
    assert values["tank1/tc_volume"][0] == 18391.6
    assert values["tank1/ullage"][0] == 11476.0
    assert values["tank1/height"][0] == 1852.4
    assert values["tank1/water"][0] == 12.1
    assert values["tank1/temperature"][0] == 23.5
    assert values["tank1/water_volume"][0] == 45.3
    assert values["tank1/delivery_in_progress"] == (False, Quality.GOOD, "")
    assert values["tank1/alarms"] == ("", Quality.GOOD, "")
    assert values["tank1/last_delivery_end"] == (None, Quality.UNCERTAIN, NO_DELIVERY)


@pytest.mark.parametrize(("status", "alarms"), [
    (TankStatus.INVALID_FUEL_HEIGHT, (9,)),
    (TankStatus.INVALID_FUEL_HEIGHT, ()),      # the bit alone
    (TankStatus.NONE, (9,)),                   # the probe-out alarm alone
    (TankStatus.NONE, (8,)),                   # invalid fuel level
])
def test_probe_out_makes_the_level_values_bad_but_not_the_status(status: TankStatus,
                                                                   alarms: tuple[int, ...]) -> None:
    record = Inventory(2, "2", status | TankStatus.DELIVERY_IN_PROGRESS, 0, 0, 0, 0, 0, 0, 0)
    values = _by_key(record, alarms, tank=2)
    for name in ("volume", "tc_volume", "ullage", "height", "water", "temperature", "water_volume"):
        assert values[f"tank2/{name}"] == (None, Quality.BAD, "sensor-fault")
    assert values["tank2/delivery_in_progress"] == (True, Quality.GOOD, "")
    assert values["tank2/alarms"][1] is Quality.GOOD


def test_a_non_finite_float_is_a_sensor_fault_of_that_value_only() -> None:
    values = _by_key(Inventory(1, "1", TankStatus.LEAK_TEST_IN_PROGRESS, float("nan"), 1.0, 2.0, 3.0, 0.0,
                               float("inf"), 0.0))
    assert values["tank1/volume"] == (None, Quality.BAD, "sensor-fault")
    assert values["tank1/temperature"] == (None, Quality.BAD, "sensor-fault")
    assert values["tank1/tc_volume"] == (1.0, Quality.GOOD, "")
    assert values["tank1/leak_test_in_progress"] == (True, Quality.GOOD, "")


def test_alarms_are_names_sorted_by_number() -> None:
    assert alarm_text((10, 2, 10)) == "leak,high-water-warning"
    assert _by_key(GOOD, (11, 5))["tank1/alarms"][0] == "low-product,delivery-needed"


def test_the_newest_delivery_in_unix_seconds_from_console_local_time() -> None:
    newer = _delivery(datetime(2026, 1, 15, 14, 30), 10000.0, 24000.2)   # noqa: DTZ001 - console local time
    older = _delivery(datetime(2026, 1, 10, 9, 0), 8000.0, 10000.0)      # noqa: DTZ001
    values = _by_key(GOOD, deliveries=TankDeliveries(1, "1", (older, newer)))
    assert values["tank1/last_delivery_end"] == (
        int(datetime(2026, 1, 15, 6, 30, tzinfo=UTC).timestamp()), Quality.GOOD, "")  # 14:30 in Shanghai
    assert values["tank1/last_delivery_volume"] == (14000.2, Quality.GOOD, "")


def test_a_tank_whose_deliveries_list_is_empty() -> None:
    values = _by_key(GOOD, deliveries=TankDeliveries(1, "1", ()))
    assert values["tank1/last_delivery_volume"] == (None, Quality.UNCERTAIN, NO_DELIVERY)
