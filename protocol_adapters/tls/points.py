"""The metrics of one tank on a TLS console, and how decoded records become readings. Pure.

One ``TankPoint`` line per metric: adding a metric is adding a line here and a value in
``tank_readings``. Keys are ``tank{n}/<name>``. A tank whose probe is out (status bit ``0004``, or
an active probe-out / invalid-fuel-level alarm) has its level, volume and temperature values bad
with reason ``sensor-fault``: the console sends zeros then, which are not zero litres.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, tzinfo

from protocol_adapters.readings import Reading
from protocol_adapters.tls.reports import (
    SENSOR_FAULT_ALARMS,
    Inventory,
    TankDeliveries,
    TankStatus,
    alarm_name,
)
from telemetry.contracts.quality import BadReason, Quality
from telemetry.contracts.sparkplug import DataType

NO_DELIVERY = "no-delivery"   # reason of last_delivery_* while the console has no delivery for the tank


@dataclass(frozen=True, slots=True)
class TankPoint:
    name: str
    datatype: DataType
    unit: str | None = None


INVENTORY_POINTS = (
    TankPoint("volume", DataType.DOUBLE, "L"),
    TankPoint("tc_volume", DataType.DOUBLE, "L"),       # corrected to 20 °C (GB/T 1885)
    TankPoint("ullage", DataType.DOUBLE, "L"),
    TankPoint("height", DataType.DOUBLE, "mm"),
    TankPoint("water", DataType.DOUBLE, "mm"),
    TankPoint("temperature", DataType.DOUBLE, "°C"),
    TankPoint("water_volume", DataType.DOUBLE, "L"),
)
TANK_POINTS = (
    *INVENTORY_POINTS,
    TankPoint("delivery_in_progress", DataType.BOOLEAN),
    TankPoint("leak_test_in_progress", DataType.BOOLEAN),
    TankPoint("alarms", DataType.STRING),                 # comma-separated alarm names, "" when none
    TankPoint("last_delivery_end", DataType.INT64, "s"),  # unix seconds (UTC) of the newest delivery's end
    TankPoint("last_delivery_volume", DataType.DOUBLE, "L"),
)


def tank_key(tank: int, name: str) -> str:
    return f"tank{tank}/{name}"


def tank_points(tanks: list[int] | tuple[int, ...]) -> dict[str, TankPoint]:
    """Every metric key of these tanks, in tank order."""
    return {tank_key(t, p.name): p for t in tanks for p in TANK_POINTS}


def alarm_text(alarms: tuple[int, ...]) -> str:
    """``(2, 10)`` → ``"leak,high-water-warning"`` (sorted by number, no duplicates)."""
    return ",".join(alarm_name(n) for n in sorted(set(alarms)))


def tank_readings(tank: int, inventory: Inventory, alarms: tuple[int, ...],
                  deliveries: TankDeliveries | None, console_tz: tzinfo, at: datetime) -> list[Reading]:
    """All readings of one tank from one poll (``at``: when the edge node read them)."""
    probe_out = bool(inventory.status & TankStatus.INVALID_FUEL_HEIGHT) or bool(SENSOR_FAULT_ALARMS & set(alarms))
    values = (inventory.volume_l, inventory.tc_volume_l, inventory.ullage_l, inventory.height_mm,
              inventory.water_mm, inventory.temperature_c, inventory.water_volume_l)
    out = []
    for point, value in zip(INVENTORY_POINTS, values, strict=True):
        key = tank_key(tank, point.name)
        if probe_out or not math.isfinite(value):
            out.append(Reading(key, None, at, Quality.BAD, BadReason.SENSOR_FAULT.value))
        else:
            out.append(Reading(key, value, at))
    out.append(Reading(tank_key(tank, "delivery_in_progress"),
                       bool(inventory.status & TankStatus.DELIVERY_IN_PROGRESS), at))
    out.append(Reading(tank_key(tank, "leak_test_in_progress"),
                       bool(inventory.status & TankStatus.LEAK_TEST_IN_PROGRESS), at))
    out.append(Reading(tank_key(tank, "alarms"), alarm_text(alarms), at))
    out += delivery_readings(tank, deliveries, console_tz, at)
    return out


def delivery_readings(tank: int, deliveries: TankDeliveries | None, console_tz: tzinfo,
                      at: datetime) -> list[Reading]:
    """``last_delivery_end`` (unix seconds) and ``last_delivery_volume`` of the newest delivery."""
    newest = deliveries.newest if deliveries is not None else None
    end_key, volume_key = tank_key(tank, "last_delivery_end"), tank_key(tank, "last_delivery_volume")
    if newest is None:
        return [Reading(end_key, None, at, Quality.UNCERTAIN, NO_DELIVERY),
                Reading(volume_key, None, at, Quality.UNCERTAIN, NO_DELIVERY)]
    end = int(newest.end.replace(tzinfo=console_tz).timestamp())
    volume = round(newest.volume_l, 3)
    if not math.isfinite(volume):
        return [Reading(end_key, end, at), Reading(volume_key, None, at, Quality.BAD, BadReason.SENSOR_FAULT.value)]
    return [Reading(end_key, end, at), Reading(volume_key, volume, at)]


def unavailable_readings(tanks: list[int] | tuple[int, ...], at: datetime, reason: str) -> list[Reading]:
    """Every metric of these tanks bad with ``reason`` (the console did not answer, or not usably)."""
    return [Reading(key, None, at, Quality.BAD, reason) for key in tank_points(tanks)]
