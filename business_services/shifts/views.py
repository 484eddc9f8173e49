"""Read queries of the shifts context, for the API and for other contexts."""

from __future__ import annotations

import psycopg

_OPEN = "SELECT shift_no FROM business.shifts WHERE station = %s AND status = 'open'"
_OPEN_LOCKED = _OPEN + " FOR SHARE"


async def open_shift(conn: psycopg.AsyncConnection, station: str, *, lock: bool = False) -> str | None:
    """The number of the station's open shift, or None. ``lock``: hold its row FOR SHARE until the caller's
    transaction ends, so the shift cannot close meanwhile (a payment taken in it counts in it)."""
    query = _OPEN_LOCKED if lock else _OPEN
    cur = await conn.execute(query, (station,))
    row = await cur.fetchone()
    return None if row is None else str(row[0])
