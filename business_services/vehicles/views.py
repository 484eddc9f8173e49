"""Read queries of vehicles for the API, the member 360° page and the member list: plain rows, unmasked (routes
mask them with ``members.model.shown``)."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row

from business_services.pages import After, Sort, keyset_page
from business_services.vehicles.repository import VEHICLE

NEWEST_FIRST = Sort("id", int, descending=True)
BLOCKED_NEWEST = Sort("blocked_at_s", int, descending=True, tiebreak="plate", tiebreak_kind=str)


async def plates_of(conn: psycopg.AsyncConnection, member_no: str) -> tuple[str, ...]:
    cur = await conn.execute("SELECT plate FROM business.vehicles WHERE member_no = %s ORDER BY id", (member_no,))
    return tuple(str(r[0]) for r in await cur.fetchall())


async def vehicles_of(conn: psycopg.AsyncConnection, member_no: str) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("SELECT " + VEHICLE + " FROM business.vehicles WHERE member_no = %s ORDER BY id",  # noqa: S608
                          (member_no,))
        return await cur.fetchall()


async def member_of_plate(conn: psycopg.AsyncConnection, plate: str) -> str | None:
    cur = await conn.execute("SELECT member_no FROM business.vehicles WHERE plate = %s", (plate,))
    row = await cur.fetchone()
    return None if row is None or row[0] is None else str(row[0])


async def vehicles(conn: psycopg.AsyncConnection, *, plate: str, member_no: str, after: After | None,
                   limit: int) -> tuple[list[dict[str, Any]], int, After | None]:
    """Vehicle records newest first; ``plate`` a prefix (京A1…), ``member_no`` exact (both optional)."""
    query = ("SELECT " + VEHICLE + " FROM business.vehicles "  # noqa: S608 (our own text)
             "WHERE (%(plate)s = '' OR plate LIKE %(plate)s || '%%') AND (%(member)s = '' OR member_no = %(member)s)")
    return await keyset_page(conn, query, {"plate": plate, "member": member_no}, NEWEST_FIRST, limit, after)


async def passages(conn: psycopg.AsyncConnection, *, plate: str, station: str, scope: frozenset[str] | None,
                   after: After | None, limit: int) -> tuple[list[dict[str, Any]], int, After | None]:
    """Entry/exit records newest first, only of the caller's stations."""
    query = """SELECT id, plate, station, lane, direction, at, source, confidence::float8 AS confidence, recorded_by
               FROM business.vehicle_passages
               WHERE (%(all)s OR station = ANY(%(scope)s)) AND (%(station)s = '' OR station = %(station)s)
                 AND (%(plate)s = '' OR plate = %(plate)s)"""
    params = {"all": scope is None, "scope": sorted(scope or ()), "station": station, "plate": plate}
    return await keyset_page(conn, query, params, NEWEST_FIRST, limit, after)


async def blocked_plates(conn: psycopg.AsyncConnection, *, plate: str, after: After | None,
                         limit: int) -> tuple[list[dict[str, Any]], int, After | None]:
    query = """SELECT plate, reason, blocked_by, blocked_at,
                      (extract(epoch FROM blocked_at) * 1000000)::bigint AS blocked_at_s
               FROM business.blocked_plates WHERE (%(plate)s = '' OR plate LIKE %(plate)s || '%%')"""
    return await keyset_page(conn, query, {"plate": plate}, BLOCKED_NEWEST, limit, after)


async def blocked(conn: psycopg.AsyncConnection, plate: str) -> dict[str, Any] | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("SELECT plate, reason, blocked_by, blocked_at FROM business.blocked_plates WHERE plate = %s",
                          (plate,))
        return await cur.fetchone()
