"""Read queries of head office's order copies: a page of a station's orders, one order."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

_COLUMNS = """station, order_no, kind, status, version, pump, fuelling_point, nozzle, grade, volume_l, price_fen_per_l,
              amount_fen, paid_fen, written_off_fen, shift_no, tags, note, held_reason, fuelled_at, created_at,
              changed_at, received_at, price_set, member_no, plate"""


async def page(conn: psycopg.AsyncConnection, *, station: str, shift_no: str | None, status: str | None,
               since: datetime | None, until: datetime | None, after: tuple[datetime, str] | None,
               limit: int) -> list[dict[str, Any]]:
    """Orders of ``station`` newest first, after the keyset ``after`` (created_at, order_no)."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT " + _COLUMNS + """ FROM business.station_orders
               WHERE station = %(station)s AND created_at IS NOT NULL
                 AND (%(shift)s::text IS NULL OR shift_no = %(shift)s)
                 AND (%(status)s::text IS NULL OR status = %(status)s)
                 AND (%(since)s::timestamptz IS NULL OR created_at >= %(since)s)
                 AND (%(until)s::timestamptz IS NULL OR created_at < %(until)s)
                 AND (%(at)s::timestamptz IS NULL OR (created_at, order_no) < (%(at)s, %(no)s))
               ORDER BY created_at DESC, order_no DESC LIMIT %(limit)s""",  # noqa: S608
            {"station": station, "shift": shift_no, "status": status, "since": since, "until": until,
             "at": after[0] if after else None, "no": after[1] if after else None, "limit": limit})
        return await cur.fetchall()


async def one(conn: psycopg.AsyncConnection, station: str, order_no: str) -> dict[str, Any] | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("SELECT " + _COLUMNS + " FROM business.station_orders WHERE station = %s AND order_no = %s",  # noqa: S608
                          (station, order_no))
        return await cur.fetchone()


async def of_member(conn: psycopg.AsyncConnection, member_no: str, scope: frozenset[str] | None,
                    limit: int = 50) -> list[dict[str, Any]]:
    """A member's orders newest first (the member 360° page), only of the stations in ``scope`` (None: all)."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT " + _COLUMNS + """ FROM business.station_orders
               WHERE member_no = %s AND created_at IS NOT NULL AND (%s OR station = ANY(%s))
               ORDER BY created_at DESC, order_no DESC LIMIT %s""",  # noqa: S608
            (member_no, scope is None, sorted(scope or ()), limit))
        return await cur.fetchall()
