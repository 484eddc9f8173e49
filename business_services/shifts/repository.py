"""SQL that writes the shifts context's tables."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from business_services.shifts.model import OpenShift, Reading


async def open_shift(conn: psycopg.AsyncConnection, shift_no: str, command: OpenShift, definition: str | None) -> bool:
    """Insert an open shift; False when the station already has one open."""
    cur = await conn.execute(
        """INSERT INTO business.shifts (shift_no, station, opened_at, opened_by, definition) VALUES (%s, %s, %s, %s, %s)
           ON CONFLICT DO NOTHING""",
        (shift_no, command.station, command.at, command.by, definition))
    return cur.rowcount == 1


async def set_start_readings(conn: psycopg.AsyncConnection, shift_no: str, readings: list[tuple[Reading, str]]) -> None:
    for reading, source in readings:
        n = reading.nozzle
        await conn.execute(
            """INSERT INTO business.shift_nozzles (shift_no, pump, fuelling_point, nozzle, start_l, start_source)
               VALUES (%s, %s, %s, %s, %s, %s)""",
            (shift_no, n.pump, n.fuelling_point, n.nozzle, reading.litres, source))


async def set_end_readings(conn: psycopg.AsyncConnection, shift_no: str, readings: tuple[Reading, ...]) -> None:
    for reading in readings:
        n = reading.nozzle
        await conn.execute(
            """INSERT INTO business.shift_nozzles (shift_no, pump, fuelling_point, nozzle, end_l)
               VALUES (%s, %s, %s, %s, %s)
               ON CONFLICT (shift_no, pump, fuelling_point, nozzle) DO UPDATE SET end_l = EXCLUDED.end_l""",
            (shift_no, n.pump, n.fuelling_point, n.nozzle, reading.litres))


async def lock_for_close(conn: psycopg.AsyncConnection, station: str, shift_no: str) -> tuple[str, str] | None:
    """The shift's (status, opened_by), its row locked FOR UPDATE: waits for every payment holding it FOR SHARE,
    and holds off new ones until the close commits."""
    cur = await conn.execute("SELECT status, opened_by FROM business.shifts WHERE station = %s AND shift_no = %s "
                             "FOR UPDATE", (station, shift_no))
    row = await cur.fetchone()
    return None if row is None else (str(row[0]), str(row[1]))


async def close(conn: psycopg.AsyncConnection, shift_no: str, by: str, at: datetime, report: dict[str, Any],
                override_reason: str | None) -> None:
    await conn.execute(
        """UPDATE business.shifts SET status = 'closed', closed_at = %s, closed_by = %s, report = %s,
               override_reason = %s WHERE shift_no = %s""",
        (at, by, Jsonb(report), override_reason, shift_no))


async def add_taking(conn: psycopg.AsyncConnection, kind: str, document_no: str, shift_no: str, method: str,
                     amount_fen: int, at: datetime) -> str | None:
    """One payment or refund in the shift's takings, in one statement: the shift's row held FOR SHARE until the
    transaction ends (it cannot close meanwhile), the taking written unless the shift is closed; the same
    document again changes nothing. Returns the shift's status (None: no such shift)."""
    cur = await conn.execute(
        """WITH shift AS (SELECT status FROM business.shifts WHERE shift_no = %(shift_no)s FOR SHARE),
                taking AS (INSERT INTO business.shift_takings (kind, document_no, shift_no, method, amount_fen, at)
                           SELECT %(kind)s, %(document_no)s, %(shift_no)s, %(method)s, %(amount_fen)s::bigint,
                                  %(at)s::timestamptz
                           WHERE NOT EXISTS (SELECT FROM shift WHERE status = 'closed')
                           ON CONFLICT DO NOTHING)
           SELECT status FROM shift""",
        {"kind": kind, "document_no": document_no, "shift_no": shift_no, "method": method, "amount_fen": amount_fen,
         "at": at})
    row = await cur.fetchone()
    return None if row is None else str(row[0])

