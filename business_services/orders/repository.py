"""SQL that writes the orders context's tables."""

from __future__ import annotations

from datetime import datetime

import psycopg

from business_services.orders.model import Due
from telemetry.contracts.events.fuelling import FuellingCompleted


async def has_fuelling_order(conn: psycopg.AsyncConnection, event_id: str) -> bool:
    cur = await conn.execute("SELECT 1 FROM business.orders WHERE fuelling_event_id = %s", (event_id,))
    return await cur.fetchone() is not None


async def add_fuelling_order(conn: psycopg.AsyncConnection, order_no: str, event_id: str, f: FuellingCompleted,
                             shift_no: str | None, at: datetime) -> None:
    """Insert the order of one fuelling (unique on its event id: a racing second insert fails and rolls back)."""
    await conn.execute(
        """INSERT INTO business.orders (order_no, station, kind, fuelling_event_id, pump, fuelling_point, nozzle,
               grade, volume_l, price_fen_per_l, totalizer_before_l, totalizer_after_l, amount_fen, status,
               shift_no, fuelled_at, created_at, paid_at)
           VALUES (%s, %s, 'fuelling', %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
        (order_no, f.station, event_id, f.pump, f.fuelling_point, f.nozzle, f.grade, f.volume_l, f.price_fen_per_l,
         f.totalizer_before_l, f.totalizer_after_l, f.amount_fen, "paid" if f.amount_fen == 0 else "payable",
         shift_no, f.ended_at, at, at if f.amount_fen == 0 else None))


async def dues(conn: psycopg.AsyncConnection, station: str, order_nos: list[str]) -> dict[str, Due]:
    """The station's orders among ``order_nos``, locked FOR UPDATE in order-number order (no deadlock between
    two payments of overlapping orders) until the caller's transaction ends."""
    cur = await conn.execute(
        """SELECT order_no, amount_fen, paid_fen, locked_by, locked_until FROM business.orders
           WHERE station = %s AND order_no = ANY(%s) ORDER BY order_no FOR UPDATE""",
        (station, sorted(order_nos)))
    return {row[0]: Due(row[0], int(row[1]), int(row[2]), row[3], row[4]) for row in await cur.fetchall()}


async def set_paid(conn: psycopg.AsyncConnection, order_no: str, paid_fen: int, at: datetime) -> None:
    await conn.execute(
        """UPDATE business.orders SET paid_fen = %s,
               status = CASE WHEN %s = amount_fen THEN 'paid' ELSE 'payable' END,
               paid_at = CASE WHEN %s = amount_fen THEN %s END,
               locked_by = NULL, locked_until = NULL
           WHERE order_no = %s""",
        (paid_fen, paid_fen, paid_fen, at, order_no))
