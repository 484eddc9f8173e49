"""SQL that writes the fuelling context's tables: transactions and gaps, each recorded once."""

from __future__ import annotations

import psycopg

from business_services.fuelling.model import SettleGap
from telemetry.contracts.events.fuelling import FuellingCompleted, FuellingGap


async def add_fuelling(conn: psycopg.AsyncConnection, event_id: str, t: FuellingCompleted) -> bool:
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


async def add_gap(conn: psycopg.AsyncConnection, event_id: str, gap: FuellingGap) -> bool:
    """Insert once; False when this event id is already recorded."""
    cur = await conn.execute(
        """INSERT INTO business.fuelling_gaps (event_id, station, pump, fuelling_point, nozzle, grade,
               missing_transactions, totalizer_from_l, totalizer_to_l, volume_l, detected_at)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
           ON CONFLICT (event_id) DO NOTHING""",
        (event_id, gap.station, gap.pump, gap.fuelling_point, gap.nozzle, gap.grade, list(gap.missing_transactions),
         gap.totalizer_from_l, gap.totalizer_to_l, gap.volume_l, gap.detected_at))
    return cur.rowcount == 1


async def settle_gap(conn: psycopg.AsyncConnection, command: SettleGap) -> str | None:
    """Close an open gap; its station, or None when there is no such gap or it is already settled."""
    cur = await conn.execute(
        """UPDATE business.fuelling_gaps SET status = 'settled', settled_at = %s, settled_by = %s,
               settlement_note = %s
           WHERE id = %s AND status = 'open' RETURNING station""",
        (command.at, command.by, command.note, command.gap_id))
    row = await cur.fetchone()
    return None if row is None else str(row[0])
