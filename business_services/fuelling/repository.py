"""SQL for fuelling transactions (each row one ``FuellingCompleted`` payload)."""

from __future__ import annotations

import psycopg

from telemetry.contracts.events.fuelling import FuellingCompleted


async def record(conn: psycopg.AsyncConnection, event_id: str, t: FuellingCompleted) -> bool:
    """Insert once; False when this transaction (by event id or natural key) is already recorded."""
    cur = await conn.execute(
        """INSERT INTO business.fuelling_transactions (event_id, station, pump, fuelling_point, nozzle, grade,
               transaction_no, volume_l, amount_fen, price_fen_per_l, totalizer_before_l, totalizer_after_l,
               started_at, ended_at)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
           ON CONFLICT DO NOTHING""",
        (event_id, t.station, t.pump, t.fuelling_point, t.nozzle, t.grade, t.transaction, t.volume_l,
         t.amount_fen, t.price_fen_per_l, t.totalizer_before_l, t.totalizer_after_l, t.started_at, t.ended_at))
    return cur.rowcount == 1


async def recent(conn: psycopg.AsyncConnection, station: str, limit: int = 50) -> list[dict[str, object]]:
    cur = await conn.execute(
        """SELECT pump, fuelling_point, nozzle, grade, transaction_no, volume_l, amount_fen, price_fen_per_l,
                  totalizer_before_l, totalizer_after_l, started_at, ended_at
           FROM business.fuelling_transactions WHERE station = %s ORDER BY ended_at DESC LIMIT %s""",
        (station, limit))
    names = [c.name for c in cur.description or ()]
    return [dict(zip(names, row, strict=True)) for row in await cur.fetchall()]
