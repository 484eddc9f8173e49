"""Handler: a ``fuelling.completed`` event (or the legacy ``fueling.completed``) becomes one recorded transaction.

The payload is parsed with the contract model the edge built it with (``FuellingCompleted``); its station
is the topic's, which the consumer's intake has checked.
"""

from __future__ import annotations

import logging

import psycopg

from business_services.fuelling import repository
from telemetry.contracts.events import CloudEvent
from telemetry.contracts.events.fuelling import FuellingCompleted
from telemetry.contracts.topics import EventTopic

log = logging.getLogger(__name__)


async def on_fuelling_completed(conn: psycopg.AsyncConnection, event: CloudEvent, origin: EventTopic) -> None:
    transaction = FuellingCompleted.from_event(event)   # intake refused a station other than the topic's
    if await repository.record(conn, event.id, transaction):
        log.info("recorded fuelling %s/%s fp%d #%d: %s L, %d fen", transaction.station, transaction.pump,
                 transaction.fuelling_point, transaction.transaction, transaction.volume_l, transaction.amount_fen)
