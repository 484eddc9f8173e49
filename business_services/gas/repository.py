"""SQL that writes the gas context's table: CNG/LNG fills, each recorded once."""

from __future__ import annotations

import psycopg

from telemetry.contracts.events.gas import GasFillCompleted


async def add_fill(conn: psycopg.AsyncConnection, event_id: str, fill: GasFillCompleted) -> bool:
    """Insert once; False when this fill (by event id or natural key) is already recorded."""
    cur = await conn.execute(
        """INSERT INTO business.gas_fills (event_id, station, skid, product, dispenser, transaction_no, mass_kg,
               amount_fen, price_fen_per_kg, totalizer_after_kg, stop_reason, ended_at)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING""",
        (event_id, fill.station, fill.skid, fill.product, fill.dispenser, fill.transaction, fill.mass_kg,
         fill.amount_fen, fill.price_fen_per_kg, fill.totalizer_after_kg, fill.stop_reason, fill.ended_at))
    return cur.rowcount == 1
