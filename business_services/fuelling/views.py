"""Read queries of the fuelling context for the control API (and other contexts): plain rows, newest first."""

from __future__ import annotations

import psycopg


async def rows(cur: psycopg.AsyncCursor) -> list[dict[str, object]]:
    names = [c.name for c in cur.description or ()]
    return [dict(zip(names, row, strict=True)) for row in await cur.fetchall()]


async def recent_fuellings(conn: psycopg.AsyncConnection, station: str, limit: int = 50) -> list[dict[str, object]]:
    return await rows(await conn.execute(
        """SELECT pump, fuelling_point, nozzle, grade, transaction_no, volume_l, amount_fen, price_fen_per_l,
                  totalizer_before_l, totalizer_after_l, started_at, ended_at
           FROM business.fuelling_transactions WHERE station = %s ORDER BY ended_at DESC LIMIT %s""",
        (station, limit)))


async def open_gaps(conn: psycopg.AsyncConnection, station: str) -> list[dict[str, object]]:
    """A station's open gaps, oldest first (the order a manager works through them)."""
    return await rows(await conn.execute(
        """SELECT id, pump, fuelling_point, nozzle, grade, missing_transactions, totalizer_from_l, totalizer_to_l,
                  volume_l, detected_at
           FROM business.fuelling_gaps WHERE station = %s AND status = 'open' ORDER BY detected_at, id""",
        (station,)))
