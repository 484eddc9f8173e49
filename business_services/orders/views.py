"""Read queries of the orders context, for the API and for other contexts."""

from __future__ import annotations

import psycopg

from business_services.orders import repository
from business_services.orders.model import Due


async def dues(conn: psycopg.AsyncConnection, station: str, order_nos: list[str]) -> dict[str, Due]:
    """What a payment needs of its orders, each locked until the caller's transaction ends (payments)."""
    return await repository.dues(conn, station, order_nos)


# --- for the shifts context (business_services/shifts/views.py) -------------------------------------------

async def sales_by_nozzle(conn: psycopg.AsyncConnection, shift_no: str) -> list[dict[str, object]]:
    """The shift's sales (orders stamped with it) per nozzle and grade: orders, litres, fen."""
    cur = await conn.execute(
        """SELECT pump, fuelling_point, nozzle, grade, count(*), coalesce(sum(volume_l), 0), sum(amount_fen)
           FROM business.orders WHERE shift_no = %s
           GROUP BY pump, fuelling_point, nozzle, grade ORDER BY pump, fuelling_point, nozzle, grade""",
        (shift_no,))
    return [{"pump": r[0], "fuelling_point": r[1], "nozzle": r[2], "grade": r[3], "orders": int(r[4]),
             "volume_l": r[5], "amount_fen": int(r[6])} for r in await cur.fetchall()]


async def latest_totalizers(conn: psycopg.AsyncConnection, station: str) -> list[tuple[str, int, int, object]]:
    """Each nozzle's totalizer after its latest fuelling at the station: (pump, fuelling point, nozzle, litres)."""
    cur = await conn.execute(
        """SELECT DISTINCT ON (pump, fuelling_point, nozzle) pump, fuelling_point, nozzle, totalizer_after_l
           FROM business.orders WHERE station = %s AND kind = 'fuelling' AND totalizer_after_l IS NOT NULL
           ORDER BY pump, fuelling_point, nozzle, fuelled_at DESC, created_at DESC""", (station,))
    return [(r[0], int(r[1]), int(r[2]), r[3]) for r in await cur.fetchall()]


async def unpaid(conn: psycopg.AsyncConnection, station: str) -> list[dict[str, object]]:
    """The station's orders not paid in full, oldest first, with the shift each was sold in."""
    cur = await conn.execute(
        """SELECT order_no, shift_no, amount_fen, paid_fen, fuelled_at, created_at FROM business.orders
           WHERE station = %s AND status = 'payable' ORDER BY created_at, order_no""", (station,))
    return [{"order_no": r[0], "shift_no": r[1], "amount_fen": int(r[2]), "paid_fen": int(r[3]),
             "fuelled_at": r[4], "created_at": r[5]} for r in await cur.fetchall()]
