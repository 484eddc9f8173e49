"""Fuelling gaps: recorded once each from the edge's ``fuelling.gap`` events, open until the station settles them.

A gap is fuel that left a nozzle (by its totalizer) without a transaction the platform could read.
The station's manager settles it, e.g. after matching it with the POS's sales of that period; a
settled gap is never reopened or settled twice.
"""

from __future__ import annotations

import logging
from datetime import datetime

import psycopg

from telemetry.contracts.events import CloudEvent
from telemetry.contracts.events.fuelling import FuellingGap
from telemetry.contracts.topics import EventTopic

__all__ = ["on_fuelling_gap", "open_gaps", "record", "settle"]

log = logging.getLogger(__name__)


async def on_fuelling_gap(conn: psycopg.AsyncConnection, event: CloudEvent, origin: EventTopic) -> None:
    gap = FuellingGap.from_event(event)   # intake refused a station other than the topic's
    if await record(conn, event.id, gap):
        log.warning("recorded fuelling gap %s/%s fp%d nozzle %d: %s L (totalizer %s → %s)", gap.station, gap.pump,
                    gap.fuelling_point, gap.nozzle, gap.volume_l, gap.totalizer_from_l, gap.totalizer_to_l)


async def record(conn: psycopg.AsyncConnection, event_id: str, gap: FuellingGap) -> bool:
    """Insert once; False when this event id is already recorded."""
    cur = await conn.execute(
        """INSERT INTO business.fuelling_gaps (event_id, station, pump, fuelling_point, nozzle, grade,
               missing_transactions, totalizer_from_l, totalizer_to_l, volume_l, detected_at)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
           ON CONFLICT (event_id) DO NOTHING""",
        (event_id, gap.station, gap.pump, gap.fuelling_point, gap.nozzle, gap.grade, list(gap.missing_transactions),
         gap.totalizer_from_l, gap.totalizer_to_l, gap.volume_l, gap.detected_at))
    return cur.rowcount == 1


async def settle(conn: psycopg.AsyncConnection, gap_id: int, by: str, note: str, at: datetime) -> bool:
    """Close an open gap; False when there is no such gap or it is already settled."""
    if not by.strip() or not note.strip():
        raise ValueError("settling a gap needs who settles it and a note saying how")
    cur = await conn.execute(
        """UPDATE business.fuelling_gaps SET status = 'settled', settled_at = %s, settled_by = %s,
               settlement_note = %s
           WHERE id = %s AND status = 'open'""", (at, by, note, gap_id))
    return cur.rowcount == 1


async def open_gaps(conn: psycopg.AsyncConnection, station: str) -> list[dict[str, object]]:
    cur = await conn.execute(
        """SELECT id, pump, fuelling_point, nozzle, grade, missing_transactions, totalizer_from_l, totalizer_to_l,
                  volume_l, detected_at
           FROM business.fuelling_gaps WHERE station = %s AND status = 'open' ORDER BY detected_at, id""",
        (station,))
    names = [c.name for c in cur.description or ()]
    return [dict(zip(names, row, strict=True)) for row in await cur.fetchall()]
