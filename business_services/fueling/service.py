"""Handler: a ``fueling.completed`` event becomes one recorded transaction, for the station of its topic."""

from __future__ import annotations

import logging

import psycopg

from business_services.fueling import repository
from business_services.fueling.model import FuelingTransaction
from telemetry.contracts.events import CloudEvent
from telemetry.contracts.topics import EventTopic

log = logging.getLogger(__name__)


async def on_fueling_completed(conn: psycopg.AsyncConnection, event: CloudEvent, origin: EventTopic) -> None:
    # the station is the one the broker authorised (the consumer has refused payloads claiming another)
    transaction = FuelingTransaction.model_validate(event.data | {"station": origin.station})
    if await repository.record(conn, event.id, transaction):
        log.info("recorded fuelling %s/%s fp%d #%d: %s L, %d fen", transaction.station, transaction.pump,
                 transaction.fuelling_point, transaction.transaction, transaction.volume_l, transaction.amount_fen)
