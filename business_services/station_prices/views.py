"""Read queries of the station's prices: what ``GET /api/v1/stations/{station}/prices`` answers."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row

from business_services.station_prices.model import prices_view

#: Sets looked at: the newest few are enough to find the one in force and each nozzle's old price.
SETS_LOOKED_AT = 20


async def station_prices(conn: psycopg.AsyncConnection, station: str) -> dict[str, Any]:
    """The station's prices in the contract's shape (docs/station-prices.md); empty when no set is held yet."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            """SELECT version, effective_at, change_no, reason, grades, units, nozzles FROM business.station_price_sets
               WHERE station = %s ORDER BY version DESC LIMIT %s""", (station, SETS_LOOKED_AT))
        sets = await cur.fetchall()
        await cur.execute(
            """SELECT version, device, fuelling_point, nozzle, grade, price_fen, state, detail, attempt, at
               FROM business.station_price_nozzles WHERE station = %s AND version >= %s""",
            (station, min((s["version"] for s in sets), default=0)))
        reports = await cur.fetchall()
    return prices_view(station, sets, reports)


async def held_version(conn: psycopg.AsyncConnection, station: str) -> int | None:
    cur = await conn.execute("SELECT max(version) FROM business.station_price_sets WHERE station = %s", (station,))
    row = await cur.fetchone()
    return None if row is None else row[0]
