"""SQL that writes vehicles, entry/exit records and the plate blacklist."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row

from business_services.vehicles.model import RecordPassage

VEHICLE = "id, plate, member_no, fleet_id, model, colour, created_at, updated_at"


async def vehicle_by_plate(conn: psycopg.AsyncConnection, plate: str) -> dict[str, Any] | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("SELECT " + VEHICLE + " FROM business.vehicles WHERE plate = %s FOR UPDATE",  # noqa: S608
                          (plate,))
        return await cur.fetchone()


async def vehicle(conn: psycopg.AsyncConnection, vehicle_id: int) -> dict[str, Any] | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("SELECT " + VEHICLE + " FROM business.vehicles WHERE id = %s FOR UPDATE",  # noqa: S608
                          (vehicle_id,))
        return await cur.fetchone()


async def insert_vehicle(conn: psycopg.AsyncConnection, plate: str, member_no: str, model: str,
                         colour: str) -> dict[str, Any] | None:
    """The new record, or None when the plate has one already (a concurrent binding)."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("INSERT INTO business.vehicles (plate, member_no, model, colour) "
                          "VALUES (%s, %s, %s, %s) ON CONFLICT (plate) DO NOTHING RETURNING " + VEHICLE,
                          (plate, member_no, model, colour))
        return await cur.fetchone()


async def insert_fleet_vehicle(conn: psycopg.AsyncConnection, plate: str, fleet_id: int) -> dict[str, Any] | None:
    """A new record of a fleet's vehicle, or None when the plate has one already (a concurrent binding)."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("INSERT INTO business.vehicles (plate, fleet_id) VALUES (%s, %s) "  # noqa: S608
                          "ON CONFLICT (plate) DO NOTHING RETURNING " + VEHICLE, (plate, fleet_id))
        return await cur.fetchone()


async def update_vehicle(conn: psycopg.AsyncConnection, vehicle_id: int, **fields: Any) -> dict[str, Any]:
    """Set ``member_no``, ``fleet_id``, ``model`` and/or ``colour``; the record after."""
    allowed = [k for k in ("member_no", "fleet_id", "model", "colour") if k in fields]
    assignments = ", ".join(f"{k} = %s" for k in allowed)
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(f"UPDATE business.vehicles SET {assignments}, updated_at = now() WHERE id = %s "  # noqa: S608
                          "RETURNING " + VEHICLE, [*(fields[k] for k in allowed), vehicle_id])
        row = await cur.fetchone()
    if row is None:
        raise LookupError(vehicle_id)
    return row


async def delete_of_member(conn: psycopg.AsyncConnection, member_no: str) -> int:
    """Erasure: the member's vehicle records go (a plate is personal data); how many."""
    cur = await conn.execute("DELETE FROM business.vehicles WHERE member_no = %s", (member_no,))
    return cur.rowcount


_PASSAGE = "id, plate, station, lane, direction, at, source, confidence::float8 AS confidence, recorded_by"


async def insert_passage(conn: psycopg.AsyncConnection, p: RecordPassage,
                         recorded_by: str) -> tuple[dict[str, Any], bool]:
    """The record and True; or the record of this sighting made before and False."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            """INSERT INTO business.vehicle_passages (plate, station, lane, direction, at, source, confidence,
                   recorded_by) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
               ON CONFLICT (station, plate, direction, at) DO NOTHING RETURNING """ + _PASSAGE,  # noqa: S608
            (p.plate, p.station, p.lane, p.direction.value, p.at, p.source.value, p.confidence, recorded_by))
        row = await cur.fetchone()
        if row is not None:
            return row, True
        await cur.execute("SELECT " + _PASSAGE + " FROM business.vehicle_passages "  # noqa: S608
                          "WHERE station = %s AND plate = %s AND direction = %s AND at = %s",
                          (p.station, p.plate, p.direction.value, p.at))
        found = await cur.fetchone()
        if found is None:
            raise LookupError(p.plate)
        return found, False


async def block(conn: psycopg.AsyncConnection, plate: str, reason: str, by: str) -> dict[str, Any] | None:
    """Block the plate (or change the reason of a block); the row before (None: it was not blocked)."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("SELECT plate, reason, blocked_by, blocked_at FROM business.blocked_plates "
                          "WHERE plate = %s FOR UPDATE", (plate,))
        before = await cur.fetchone()
        await cur.execute("""INSERT INTO business.blocked_plates (plate, reason, blocked_by) VALUES (%s, %s, %s)
                             ON CONFLICT (plate) DO UPDATE SET reason = excluded.reason""", (plate, reason, by))
        return before


async def unblock(conn: psycopg.AsyncConnection, plate: str) -> dict[str, Any] | None:
    """The block removed, or None when the plate was not blocked."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("DELETE FROM business.blocked_plates WHERE plate = %s "
                          "RETURNING plate, reason, blocked_by, blocked_at", (plate,))
        return await cur.fetchone()
