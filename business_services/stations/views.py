"""Read queries of station master data for the API, and the master-data list that goes down to a station."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from business_services.pages import After, Sort, keyset_page
from business_services.stations import repository
from business_services.stations.model import DEFAULT_GROUP, GRADES, fuelling_point_counts
from business_services.stations.users import station_users
from telemetry.contracts.master_data import MasterData
from telemetry.contracts.topics import event_topic

SORTS = {name: Sort(column, kind, name.startswith("-"), tiebreak="code", tiebreak_kind=str)   # ?sort= of the list
         for name, column, kind in (("code", "code", str), ("-code", "code", str), ("name", "name", str),
                                    ("region", "region", str), ("-version", "version", int))}


@dataclass(frozen=True, slots=True)
class StationRow:
    code: str
    name: str
    region: str
    address: str
    responsible: str
    version: int
    edge_version: int | None
    edge_version_at: datetime | None


@dataclass(frozen=True, slots=True)
class Page:
    items: list[StationRow]
    total: int
    last: After | None      # the last row's key when more may follow (control_api/pagination.py: the cursor)


async def list_stations(conn: psycopg.AsyncConnection, scope: frozenset[str] | None, *, q: str = "",
                        region: str = "", sort: Sort = SORTS["code"], after: After | None = None,
                        limit: int = 50) -> Page:
    """Stations in ``scope`` (None: all) matching ``q`` (code or name) and ``region``; a keyset page
    (``business_services/pages.py``) after ``after``."""
    like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    query = """SELECT code, name, region, address, responsible, version, edge_version, edge_version_at
               FROM business.stations
               WHERE (%(scope)s::text[] IS NULL OR code = ANY(%(scope)s))
                 AND (%(q)s = '' OR code ILIKE %(like)s OR name ILIKE %(like)s)
                 AND (%(region)s = '' OR region = %(region)s)"""
    params = {"scope": None if scope is None else sorted(scope), "q": q, "like": like, "region": region}
    rows, total, last = await keyset_page(conn, query, params, sort, limit, after)
    return Page([StationRow(**row) for row in rows], total, last)


async def station_detail(conn: psycopg.AsyncConnection, code: str) -> dict[str, Any] | None:
    found = await repository.station(conn, code)
    if found is None:
        return None
    record, version = found
    cur = await conn.execute("SELECT edge_version, edge_version_at FROM business.stations WHERE code = %s", (code,))
    edge = await cur.fetchone() or (None, None)
    return {**_station_json(record), "version": version, "edge_version": edge[0], "edge_version_at": edge[1]}


def _station_json(s: Any) -> dict[str, Any]:
    return {"code": s.code, "name": s.name, "company_group": s.company_group, "region": s.region,
            "address": s.address, "latitude": s.latitude, "longitude": s.longitude,
            "contacts": [{"name": n, "phone": p} for n, p in s.contacts], "opening_hours": s.opening_hours,
            "photos": list(s.photos), "responsible": s.responsible, "timezone": s.timezone}


def grade_json(code: str) -> dict[str, Any]:
    g = GRADES[code]
    return {"code": g.code, "name": g.name, "unit": g.unit, "kind": g.kind}


async def devices_json(conn: psycopg.AsyncConnection, code: str) -> list[dict[str, Any]]:
    """The station's devices as station-file entries (``code`` first); a dispenser's counts from its nozzles."""
    nozzles = await repository.nozzles(conn, code)
    entries = []
    for d in await repository.devices(conn, code):
        entry: dict[str, Any] = {"code": d.code, **d.settings}
        if d.kind == "dispenser":
            entry["fuelling_points"], entry["nozzles_per_point"] = fuelling_point_counts(nozzles, d.code)
        entries.append(entry)
    return entries


async def nozzles_json(conn: psycopg.AsyncConnection, code: str) -> list[dict[str, Any]]:
    return [{"device": n.device, "fuelling_point": n.fuelling_point, "number": n.number, "grade": n.grade,
             "grade_name": GRADES[n.grade].name if n.grade else None}
            for n in await repository.nozzles(conn, code)]


async def tanks_json(conn: psycopg.AsyncConnection, code: str) -> list[dict[str, Any]]:
    return [{"number": t.number, "grade": t.grade, "grade_name": GRADES[t.grade].name, "capacity_l": t.capacity_l}
            for t in await repository.tanks(conn, code)]


async def shifts_json(conn: psycopg.AsyncConnection, code: str) -> list[dict[str, Any]]:
    return [{"code": s.code, "name": s.name, "starts": s.starts.isoformat("minutes"),
             "ends": s.ends.isoformat("minutes")} for s in await repository.shifts(conn, code)]


async def master_data(conn: psycopg.AsyncConnection, code: str) -> MasterData:
    """The whole list of one station at its current version (read in the caller's transaction)."""
    found = await repository.station(conn, code)
    if found is None:
        raise LookupError(code)
    record, version = found
    nozzles = await nozzles_json(conn, code)
    tanks = await tanks_json(conn, code)
    used = sorted({n["grade"] for n in nozzles if n["grade"]} | {t["grade"] for t in tanks})
    return MasterData(version=version, station_code=code, station=_station_json(record),
                      devices=await devices_json(conn, code), grades=[grade_json(g) for g in used],
                      tanks=tanks, nozzles=nozzles, shifts=await shifts_json(conn, code),
                      users=await station_users(conn, code))


GROUP_CACHE_S = 60.0      # how long a process trusts a station's company group (docs/payments.md "Performance")
# (database, station) -> (company group, monotonic time it stops being trusted); keyed by the database too, as
# one process may serve two (the demo runs head office and a station server side by side)
_groups: dict[tuple[str, str], tuple[str, float]] = {}


def _database(conn: psycopg.AsyncConnection) -> str:
    return f"{conn.info.host}:{conn.info.port}/{conn.info.dbname}"


def forget_groups(station: str) -> None:
    """Drop this process's cached company group of ``station`` (every database's): its row changed."""
    for key in [key for key in _groups if key[1] == station]:
        del _groups[key]


async def event_topic_for(conn: psycopg.AsyncConnection, station: str, event_type: str) -> str:
    """The topic a station's business event goes out on: its company's group level from master data (the
    default group while a station server has not received its list yet).

    A station's group is read once per ``GROUP_CACHE_S`` per process (every payment emits two events): this
    process drops it when it edits the station (``handlers.edit_station``, ``copy.apply_list``), another process sees a
    change of company within ``GROUP_CACHE_S``. A station without a row is never cached (its list may come)."""
    key = (_database(conn), station)
    cached = _groups.get(key)
    if cached is not None and cached[1] > time.monotonic():
        return event_topic(cached[0], station, event_type)
    cur = await conn.execute("SELECT company_group FROM business.stations WHERE code = %s", (station,))
    row = await cur.fetchone()
    if row is None:
        return event_topic(DEFAULT_GROUP, station, event_type)
    _groups[key] = (str(row[0]), time.monotonic() + GROUP_CACHE_S)
    return event_topic(str(row[0]), station, event_type)
