"""SQL of head office's order copies: each event merged into one row per order, never going backwards."""

from __future__ import annotations

import psycopg
from psycopg.types.json import Jsonb

from telemetry.contracts.events.orders import OrderChanged, OrderCreated


async def keep_created(conn: psycopg.AsyncConnection, o: OrderCreated) -> None:
    """The order's facts (they never change); its state only if no later version is already held."""
    await conn.execute(
        """INSERT INTO business.station_orders AS s (station, order_no, kind, fuelling_event_id, pump, fuelling_point,
               nozzle, grade, volume_l, price_fen_per_l, totalizer_before_l, totalizer_after_l, amount_fen, item,
               reason, shift_no, fuelled_at, created_at, version, status, changed_at, price_set, member_no, plate)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
           ON CONFLICT (station, order_no) DO UPDATE SET
               kind = excluded.kind, fuelling_event_id = excluded.fuelling_event_id, pump = excluded.pump,
               fuelling_point = excluded.fuelling_point, nozzle = excluded.nozzle, grade = excluded.grade,
               volume_l = excluded.volume_l, price_fen_per_l = excluded.price_fen_per_l,
               totalizer_before_l = excluded.totalizer_before_l, totalizer_after_l = excluded.totalizer_after_l,
               amount_fen = excluded.amount_fen, item = excluded.item, reason = excluded.reason,
               shift_no = excluded.shift_no, fuelled_at = excluded.fuelled_at, created_at = excluded.created_at,
               price_set = excluded.price_set,
               member_no = CASE WHEN excluded.version > s.version THEN excluded.member_no
                                ELSE coalesce(s.member_no, excluded.member_no) END,
               plate = CASE WHEN excluded.version > s.version THEN excluded.plate
                            ELSE coalesce(s.plate, excluded.plate) END,
               version = greatest(s.version, excluded.version),
               status = CASE WHEN excluded.version > s.version THEN excluded.status ELSE s.status END""",
        (o.station, o.order_no, o.kind, o.fuelling_event_id, o.pump, o.fuelling_point, o.nozzle, o.grade, o.volume_l,
         o.price_fen_per_l, o.totalizer_before_l, o.totalizer_after_l, o.amount_fen, o.item, o.reason, o.shift_no,
         o.fuelled_at, o.created_at, o.version, o.status, o.created_at, o.price_set, o.member_no, o.plate))


async def keep_changed(conn: psycopg.AsyncConnection, c: OrderChanged) -> None:
    """The order's state at ``c.version``, unless a later version is already held."""
    await conn.execute(
        """INSERT INTO business.station_orders AS s (station, order_no, version, status, paid_fen, written_off_fen,
               tags, note, held_reason, changed_at, member_no, plate)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
           ON CONFLICT (station, order_no) DO UPDATE SET
               version = excluded.version, status = excluded.status, paid_fen = excluded.paid_fen,
               written_off_fen = excluded.written_off_fen, tags = excluded.tags, note = excluded.note,
               held_reason = excluded.held_reason, changed_at = excluded.changed_at,
               member_no = excluded.member_no, plate = excluded.plate
           WHERE excluded.version > s.version""",
        (c.station, c.order_no, c.version, c.status, c.paid_fen, c.written_off_fen,
         Jsonb([t.model_dump() for t in c.tags]), c.note, c.held_reason, c.at, c.member_no, c.plate))
