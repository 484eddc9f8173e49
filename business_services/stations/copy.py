"""The station server's copy of its master data: written only from the list head office sent.

In the ``station`` role (``forecourt/roles.py``) the master data is not edited here: the station server reads
the list the edge node keeps on disk (or receives the same command) and makes its own database hold exactly
that version, if it is newer than the copy. So the station has its devices, nozzles, grades, shifts and its
users (``business_services/access/station_copy.py``: a cashier logs in at the station) while head office
is away.
"""

from __future__ import annotations

from datetime import time

import psycopg

from business_services.access.station_copy import hold_station_users
from business_services.stations import repository, views
from business_services.stations.model import Nozzle, ShiftDefinition, StationRecord, Tank
from business_services.stations.station_file import device_from_entry
from telemetry.contracts.master_data import MasterData, newer


def _station(raw: dict[str, object]) -> StationRecord:
    contacts = raw.get("contacts") or []
    return StationRecord(
        code=str(raw["code"]), name=str(raw["name"]), company_group=str(raw["company_group"]),
        region=str(raw.get("region", "")), address=str(raw.get("address", "")),
        latitude=raw.get("latitude"), longitude=raw.get("longitude"),  # type: ignore[arg-type]
        contacts=tuple((str(c["name"]), str(c["phone"])) for c in contacts),  # type: ignore[attr-defined]
        opening_hours=str(raw.get("opening_hours", "")), photos=tuple(raw.get("photos") or ()),  # type: ignore[arg-type]
        responsible=str(raw.get("responsible", "")), timezone=str(raw.get("timezone", "Asia/Shanghai")))


async def apply_list(conn: psycopg.AsyncConnection, data: MasterData) -> bool:
    """Hold ``data`` if it is newer than the copy; False (and nothing written) when it is not."""
    async with conn.transaction():
        found = await repository.station(conn, data.station_code, lock=True)
        if found is not None and not newer(data.version, found[1]):
            return False
        station = _station(data.station)
        if found is None:
            await repository.insert_station(conn, station, data.version)
        else:
            await repository.update_station(conn, station)
            views.forget_groups(station.code)            # its company (the events' topic) may have changed
            await repository.set_version(conn, station.code, data.version)
        await repository.replace_parts(
            conn, station.code, [device_from_entry(e) for e in data.devices],
            [Tank(int(t["number"]), str(t["grade"]), float(t["capacity_l"])) for t in data.tanks],
            [Nozzle(str(n["device"]), int(n["fuelling_point"]), int(n["number"]), n.get("grade"))
             for n in data.nozzles],
            [ShiftDefinition(str(s["code"]), str(s["name"]), time.fromisoformat(s["starts"]),
                             time.fromisoformat(s["ends"])) for s in data.shifts])
        await hold_station_users(conn, station.code, station.name, data.users)
    return True
