"""The edge node's station file from master data and back (pure: plain dicts in, plain dicts out).

The station file (``config/stations/*.yaml``, read by ``edge_nodes/station.py``) is generated from the
master data, so the two cannot disagree: a device's entry is kept as it is (without its code), except a
dispenser's ``fuelling_points`` and ``nozzles_per_point``, which come from its nozzle rows. Seeding from
today's files reads them the other way (``records_from_file``), with the grade of each nozzle position given,
since the file does not say it. ``forecourt stations yaml|check`` validate both sides with the edge's model.
"""

from __future__ import annotations

from typing import Any

from business_services.stations.model import (
    DEVICE_KINDS,
    Device,
    MasterDataError,
    Nozzle,
    StationRecord,
    Tank,
    check_grade,
)

_DERIVED = ("fuelling_points", "nozzles_per_point")
_KIND_OF_PROTOCOL = {"ocpp": "charger", "tls": "tank-gauge", "opcua": "gas-skid", "camera-http": "camera"}
DEFAULT_TANK_L = 30_000.0


def device_kind(entry: dict[str, Any]) -> str:
    kind = entry.get("kind")
    if kind in DEVICE_KINDS:
        return str(kind)
    if str(entry.get("profile", "")).startswith("dispenser"):
        return "dispenser"
    return _KIND_OF_PROTOCOL.get(str(entry.get("protocol", "modbus-tcp")), "other")


def device_from_entry(entry: dict[str, Any]) -> Device:
    """A station-file device entry as a device record (a dispenser's counts come from its nozzles instead)."""
    kind = device_kind(entry)
    settings = {k: v for k, v in entry.items() if k != "code" and not (kind == "dispenser" and k in _DERIVED)}
    return Device(str(entry["code"]), kind, settings)


def records_from_file(raw: dict[str, Any], nozzle_grades: list[str], *, group: str, region: str = ""
                      ) -> tuple[StationRecord, list[Device], list[Tank], list[Nozzle]]:
    """A station file's content as master data; ``nozzle_grades[i]`` is the grade of nozzle ``i + 1`` of every
    fuelling point (e.g. ``["92", "95"]``); one tank per grade is made, of ``DEFAULT_TANK_L``."""
    for i, g in enumerate(nozzle_grades):
        check_grade(g, f"grades.{i}")
    station = StationRecord(code=str(raw["station"]), name=str(raw.get("name") or raw["station"]),
                            company_group=str(raw.get("group") or group), region=region,
                            timezone=str(raw.get("timezone", "Asia/Shanghai")))
    devices, nozzles = [], []
    for entry in raw.get("devices", []):
        device = device_from_entry(entry)
        devices.append(device)
        if device.kind == "dispenser":
            points, per_point = int(entry.get("fuelling_points", 1)), int(entry.get("nozzles_per_point", 1))
            if nozzle_grades and len(nozzle_grades) < per_point:
                raise MasterDataError("grades", f"{entry['code']} 每个加油点有 {per_point} 支油枪，请给出每支的油品 "
                                                f"(each fuelling point has {per_point} nozzles: give a grade for each)")
            nozzles += [Nozzle(str(entry["code"]), fp, n, nozzle_grades[n - 1] if nozzle_grades else None)
                        for fp in range(1, points + 1) for n in range(1, per_point + 1)]
    grades = sorted({n.grade for n in nozzles if n.grade is not None})
    tanks = [Tank(i, g, DEFAULT_TANK_L) for i, g in enumerate(grades, start=1)]
    return station, devices, tanks, nozzles


def file_from_list(station: dict[str, Any], devices: list[dict[str, Any]]) -> dict[str, Any]:
    """The station file's content from a master-data list's station record and devices."""
    return {"station": station["code"], "name": station["name"], "group": station["company_group"],
            "timezone": station["timezone"], "devices": devices}
