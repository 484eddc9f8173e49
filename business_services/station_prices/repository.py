"""SQL that writes the station's price copies: a set held (never replaced), a nozzle's newest report."""

from __future__ import annotations

import psycopg
from psycopg.types.json import Jsonb

from telemetry.contracts.prices import PriceApplied, PriceSet


async def hold_set(conn: psycopg.AsyncConnection, s: PriceSet) -> bool:
    """Hold ``s``; False when this version is already held (a set never changes under its version)."""
    cur = await conn.execute(
        """INSERT INTO business.station_price_sets (station, version, effective_at, change_no, reason, grades, units,
               nozzles) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (station, version) DO NOTHING""",
        (s.station, s.version, s.effective_at, s.change_no, s.reason, Jsonb(s.grades), Jsonb(s.units),
         Jsonb([n.model_dump() for n in s.nozzles])))
    return cur.rowcount == 1


async def keep_report(conn: psycopg.AsyncConnection, r: PriceApplied, event_id: str) -> bool:
    """The nozzle's report for its version, unless a newer one is held (``model.report_order``); whether kept."""
    cur = await conn.execute(
        """INSERT INTO business.station_price_nozzles AS n (station, version, device, fuelling_point, nozzle, grade,
               price_fen, state, detail, attempt, at, event_id)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
           ON CONFLICT (station, version, device, fuelling_point, nozzle) DO UPDATE SET
               grade = excluded.grade, price_fen = excluded.price_fen, state = excluded.state,
               detail = excluded.detail, attempt = excluded.attempt, at = excluded.at, event_id = excluded.event_id
           WHERE (excluded.attempt, excluded.at, excluded.state IN ('applied', 'refused'))
               > (n.attempt, n.at, n.state IN ('applied', 'refused'))""",
        (r.station, r.version, r.device, r.fuelling_point, r.nozzle, r.grade, r.price_fen, r.state, r.detail,
         r.attempt, r.at, event_id))
    return cur.rowcount == 1
