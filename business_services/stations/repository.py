"""SQL of station master data: read and write the rows of one station (``business.stations*``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from business_services.stations.model import (
    Device,
    Nozzle,
    ScheduleDay,
    ShiftDefinition,
    StationRecord,
    Tank,
)

_STATION_COLUMNS = ("code, name, company_group, region, address, latitude, longitude, contacts, opening_hours, "
                    "photos, responsible, timezone")


def _station(row: tuple[Any, ...]) -> StationRecord:
    (code, name, group, region, address, lat, lng, contacts, hours, photos, responsible, tz) = row
    return StationRecord(code, name, group, region, address, lat, lng,
                         tuple((c.get("name", ""), c.get("phone", "")) for c in contacts), hours, tuple(photos),
                         responsible, tz)


def _station_params(s: StationRecord) -> tuple[Any, ...]:
    contacts = [{"name": name, "phone": phone} for name, phone in s.contacts]
    return (s.code, s.name, s.company_group, s.region, s.address, s.latitude, s.longitude, Jsonb(contacts),
            s.opening_hours, Jsonb(list(s.photos)), s.responsible, s.timezone)


async def station(conn: psycopg.AsyncConnection, code: str, *, lock: bool = False) -> tuple[StationRecord, int] | None:
    """The station and its list version; ``lock`` holds its row until the transaction ends (one change at a time)."""
    query = f"SELECT {_STATION_COLUMNS}, version FROM business.stations WHERE code = %s"  # noqa: S608 - fixed names
    cur = await conn.execute(query + (" FOR UPDATE" if lock else ""), (code,))
    row = await cur.fetchone()
    return None if row is None else (_station(row[:-1]), int(row[-1]))


async def insert_station(conn: psycopg.AsyncConnection, s: StationRecord, version: int = 1) -> bool:
    """False when a station with this code exists already."""
    query = (f"INSERT INTO business.stations ({_STATION_COLUMNS}, version) "  # noqa: S608 - fixed names
             "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (code) DO NOTHING")
    cur = await conn.execute(query, (*_station_params(s), version))
    return cur.rowcount == 1


async def update_station(conn: psycopg.AsyncConnection, s: StationRecord) -> None:
    await conn.execute(
        "UPDATE business.stations SET name = %s, company_group = %s, region = %s, address = %s, latitude = %s, "
        "longitude = %s, contacts = %s, opening_hours = %s, photos = %s, responsible = %s, timezone = %s "
        "WHERE code = %s", (*_station_params(s)[1:], s.code))


async def bump_version(conn: psycopg.AsyncConnection, code: str) -> int:
    cur = await conn.execute("UPDATE business.stations SET version = version + 1 WHERE code = %s RETURNING version",
                             (code,))
    row = await cur.fetchone()
    if row is None:
        raise LookupError(code)
    return int(row[0])


async def set_version(conn: psycopg.AsyncConnection, code: str, version: int) -> None:
    await conn.execute("UPDATE business.stations SET version = %s WHERE code = %s", (version, code))


async def record_edge_version(conn: psycopg.AsyncConnection, code: str, version: int, at: datetime) -> bool:
    """Remember the version the station holds; an older report (out of order) never lowers it."""
    cur = await conn.execute(
        "UPDATE business.stations SET edge_version = %s, edge_version_at = %s "
        "WHERE code = %s AND (edge_version IS NULL OR edge_version < %s "
        "                     OR (edge_version = %s AND edge_version_at < %s))",
        (version, at, code, version, version, at))
    return cur.rowcount == 1


# --- parts of a station ----------------------------------------------------------------------------

async def devices(conn: psycopg.AsyncConnection, station: str) -> list[Device]:
    cur = await conn.execute("SELECT code, kind, settings FROM business.stations_devices WHERE station = %s "
                             "ORDER BY position, code", (station,))
    return [Device(code, kind, settings) for code, kind, settings in await cur.fetchall()]


async def put_device(conn: psycopg.AsyncConnection, station: str, device: Device) -> None:
    await conn.execute(
        "INSERT INTO business.stations_devices (station, code, kind, position, settings) VALUES (%s, %s, %s, "
        "(SELECT coalesce(max(position), 0) + 1 FROM business.stations_devices WHERE station = %s), %s) "
        "ON CONFLICT (station, code) DO UPDATE SET kind = excluded.kind, settings = excluded.settings",
        (station, device.code, device.kind, station, Jsonb(device.settings)))


async def tanks(conn: psycopg.AsyncConnection, station: str) -> list[Tank]:
    cur = await conn.execute("SELECT number, grade, capacity_l FROM business.stations_tanks WHERE station = %s "
                             "ORDER BY number", (station,))
    return [Tank(n, g, float(c)) for n, g, c in await cur.fetchall()]


async def put_tank(conn: psycopg.AsyncConnection, station: str, tank: Tank) -> None:
    await conn.execute(
        "INSERT INTO business.stations_tanks (station, number, grade, capacity_l) VALUES (%s, %s, %s, %s) "
        "ON CONFLICT (station, number) DO UPDATE SET grade = excluded.grade, capacity_l = excluded.capacity_l",
        (station, tank.number, tank.grade, tank.capacity_l))


async def delete_tank(conn: psycopg.AsyncConnection, station: str, number: int) -> None:
    await conn.execute("DELETE FROM business.stations_tanks WHERE station = %s AND number = %s", (station, number))


async def nozzles(conn: psycopg.AsyncConnection, station: str) -> list[Nozzle]:
    cur = await conn.execute("SELECT device, fuelling_point, number, grade FROM business.stations_nozzles "
                             "WHERE station = %s ORDER BY device, fuelling_point, number", (station,))
    return [Nozzle(*row) for row in await cur.fetchall()]


async def put_nozzle(conn: psycopg.AsyncConnection, station: str, nozzle: Nozzle) -> None:
    await conn.execute(
        "INSERT INTO business.stations_nozzles (station, device, fuelling_point, number, grade) "
        "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (station, device, fuelling_point, number) "
        "DO UPDATE SET grade = excluded.grade",
        (station, nozzle.device, nozzle.fuelling_point, nozzle.number, nozzle.grade))


async def shifts(conn: psycopg.AsyncConnection, station: str) -> list[ShiftDefinition]:
    cur = await conn.execute("SELECT code, name, starts, ends FROM business.stations_shift_definitions "
                             "WHERE station = %s ORDER BY starts, code", (station,))
    return [ShiftDefinition(*row) for row in await cur.fetchall()]


async def put_shift(conn: psycopg.AsyncConnection, station: str, shift: ShiftDefinition) -> None:
    await conn.execute(
        "INSERT INTO business.stations_shift_definitions (station, code, name, starts, ends) "
        "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (station, code) "
        "DO UPDATE SET name = excluded.name, starts = excluded.starts, ends = excluded.ends",
        (station, shift.code, shift.name, shift.starts, shift.ends))


async def schedule_day(conn: psycopg.AsyncConnection, station: str, day: ScheduleDay) -> ScheduleDay | None:
    cur = await conn.execute("SELECT staff FROM business.stations_schedule WHERE station = %s AND day = %s "
                             "AND shift = %s", (station, day.day, day.shift))
    row = await cur.fetchone()
    return None if row is None else ScheduleDay(day.day, day.shift, tuple(row[0]))


async def put_schedule_day(conn: psycopg.AsyncConnection, station: str, day: ScheduleDay) -> None:
    await conn.execute(
        "INSERT INTO business.stations_schedule (station, day, shift, staff) VALUES (%s, %s, %s, %s) "
        "ON CONFLICT (station, day, shift) DO UPDATE SET staff = excluded.staff",
        (station, day.day, day.shift, Jsonb(list(day.staff))))


async def replace_parts(conn: psycopg.AsyncConnection, station: str, devices_: list[Device], tanks_: list[Tank],
                        nozzles_: list[Nozzle], shifts_: list[ShiftDefinition]) -> None:
    """Make the station's parts exactly these (the station server's copy of a list)."""
    await conn.execute("DELETE FROM business.stations_schedule WHERE station = %s", (station,))
    for table in ("stations_nozzles", "stations_tanks", "stations_shift_definitions", "stations_devices"):
        await conn.execute(f"DELETE FROM business.{table} WHERE station = %s", (station,))  # noqa: S608 - fixed names
    for d in devices_:
        await put_device(conn, station, d)
    for t in tanks_:
        await put_tank(conn, station, t)
    for n in nozzles_:
        await put_nozzle(conn, station, n)
    for s in shifts_:
        await put_shift(conn, station, s)


async def resend_unapplied_lists(conn: psycopg.AsyncConnection, after_s: int = 20) -> int:
    """Publish again each station's current list that its edge node has not reported holding ``after_s`` seconds
    after it went out (the edge was not connected yet, or the message was lost): its outbox row is marked
    unpublished, so the publisher sends the same message (same id) again. How many lists."""
    cur = await conn.execute(
        """UPDATE business.outbox o SET published_at = NULL
           FROM business.stations s
           WHERE o.event_id = 'master-data/' || s.code || '/' || s.version
             AND o.published_at < now() - make_interval(secs => %s)
             AND (s.edge_version IS NULL OR s.edge_version < s.version)""", (after_s,))
    if cur.rowcount:
        await conn.execute("SELECT pg_notify('business_outbox', '')")
    return cur.rowcount
