"""Read queries of head office's shift copies: the list, one shift with what was received, its history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

_COLUMNS = sql.SQL("""station, shift_no, definition, opened_by, opened_at, closed_by, closed_at, order_count, sales_fen,
              volume_l, takings, cash_expected_fen, cash_counted_fen, over_short_fen, unpaid_orders,
              override_reason, status, gaps, checked_at""")
_FILTER = sql.SQL("""(%(all)s OR station = ANY(%(scope)s))
             AND (%(station)s::text IS NULL OR station = %(station)s)
             AND (%(status)s::text IS NULL OR status = %(status)s)
             AND (%(from)s::timestamptz IS NULL OR opened_at >= %(from)s)
             AND (%(to)s::timestamptz IS NULL OR opened_at < %(to)s)""")

#: a keyset position in the list: (opened_at, station, shift_no) of the last row seen
Position = tuple[datetime, str, str]


async def shifts(conn: psycopg.AsyncConnection, *, stations: frozenset[str] | None, station: str | None,
                 status: str | None, opened_from: datetime | None, opened_to: datetime | None,
                 after: Position | None, limit: int) -> tuple[list[dict[str, Any]], int]:
    """Shifts newest first (by opened_at) after ``after``, and how many match the filters. ``stations``: the
    caller's scope (None: every station)."""
    params: dict[str, Any] = {"all": stations is None, "scope": sorted(stations or ()), "station": station,
                              "status": status, "from": opened_from, "to": opened_to, "limit": limit,
                              "keyset": after is not None, "at": after[0] if after else None,
                              "st": after[1] if after else None, "no": after[2] if after else None}
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            sql.SQL("""SELECT {} FROM business.station_shifts
                WHERE {} AND (NOT %(keyset)s OR (opened_at, station, shift_no) < (%(at)s, %(st)s, %(no)s))
                ORDER BY opened_at DESC, station DESC, shift_no DESC LIMIT %(limit)s""").format(_COLUMNS, _FILTER),
            params)
        rows = await cur.fetchall()
        await cur.execute(sql.SQL("SELECT count(*) AS n FROM business.station_shifts WHERE {}").format(_FILTER),
                          params)
        total = await cur.fetchone()
    return rows, int(total["n"]) if total else 0


async def shift(conn: psycopg.AsyncConnection, station: str, shift_no: str) -> dict[str, Any] | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(sql.SQL("SELECT {} FROM business.station_shifts WHERE station = %s AND shift_no = %s")
                          .format(_COLUMNS), (station, shift_no))
        return await cur.fetchone()


async def received(conn: psycopg.AsyncConnection, station: str, shift_no: str) -> dict[str, dict[str, int]]:
    """What head office received for the shift, per method: payments and refunds counted, and their net fen."""
    cur = await conn.execute(
        """SELECT method, count(*) FILTER (WHERE kind = 'payment'), count(*) FILTER (WHERE kind = 'refund'),
                  sum(net_fen)::bigint
           FROM business.station_shift_documents WHERE station = %s AND shift_no = %s
           GROUP BY method ORDER BY method""", (station, shift_no))
    return {method: {"payments": payments, "refunds": refunds, "net_fen": net}
            for method, payments, refunds, net in await cur.fetchall()}


async def history(conn: psycopg.AsyncConnection, station: str, shift_no: str) -> list[dict[str, Any]]:
    """Each change of verdict, oldest first."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("""SELECT status, gaps, decided_at FROM business.station_shift_verdicts
                             WHERE station = %s AND shift_no = %s ORDER BY id""", (station, shift_no))
        return await cur.fetchall()
