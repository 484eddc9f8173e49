"""Handler: a ``fueling.completed`` event becomes one recorded transaction."""

from __future__ import annotations

import logging

import psycopg

from business_services.fueling import repository
from business_services.fueling.model import FuelingTransaction
from telemetry.contracts.events import CloudEvent

log = logging.getLogger(__name__)


async def on_fueling_completed(conn: psycopg.AsyncConnection, event: CloudEvent) -> None:
    transaction = FuelingTransaction.model_validate(event.data)
    if await repository.record(conn, event.id, transaction):
        log.info("recorded fuelling %s/%s fp%d #%d: %s L, %d fen", transaction.station, transaction.pump,
                 transaction.fuelling_point, transaction.transaction, transaction.volume_l, transaction.amount_fen)
