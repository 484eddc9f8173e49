"""SQL that writes the shifts context's tables."""

from __future__ import annotations

import psycopg

from business_services.shifts.model import OpenShift


async def open_shift(conn: psycopg.AsyncConnection, shift_no: str, command: OpenShift) -> bool:
    """Insert an open shift; False when the station already has one open."""
    cur = await conn.execute(
        """INSERT INTO business.shifts (shift_no, station, opened_at, opened_by) VALUES (%s, %s, %s, %s)
           ON CONFLICT DO NOTHING""",
        (shift_no, command.station, command.at, command.by))
    return cur.rowcount == 1
