"""A ``gas_fill.completed`` event becomes one recorded CNG/LNG fill (the contract's ``GasFillCompleted``)."""

from __future__ import annotations

import logging

import psycopg

from telemetry.contracts.events import CloudEvent
from telemetry.contracts.events.gas import GasFillCompleted
from telemetry.contracts.topics import EventTopic

log = logging.getLogger(__name__)


async def on_gas_fill_completed(conn: psycopg.AsyncConnection, event: CloudEvent, origin: EventTopic) -> None:
    fill = GasFillCompleted.from_event(event)   # intake refused a station other than the topic's
    cur = await conn.execute(
        """INSERT INTO business.gas_fills (event_id, station, skid, product, dispenser, transaction_no, mass_kg,
               amount_fen, price_fen_per_kg, totalizer_after_kg, stop_reason, ended_at)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING""",
        (event.id, fill.station, fill.skid, fill.product, fill.dispenser, fill.transaction, fill.mass_kg,
         fill.amount_fen, fill.price_fen_per_kg, fill.totalizer_after_kg, fill.stop_reason, fill.ended_at))
    if cur.rowcount == 1:
        log.info("recorded %s fill %s/%s #%d: %s kg, %d fen", fill.product, fill.station, fill.skid,
                 fill.transaction, fill.mass_kg, fill.amount_fen)
