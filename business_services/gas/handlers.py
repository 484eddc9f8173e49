"""Handlers of the gas context: a ``gas_fill.completed`` event becomes one recorded CNG/LNG fill.

Same template as ``business_services/fuelling/handlers.py``: ``(event, uow) -> result``, parsed with the
contract model (``GasFillCompleted``), a repeat is a no-op (False).
"""

from __future__ import annotations

import logging

from business_services.gas import repository
from business_services.messagebus import Handler
from business_services.unit_of_work import UnitOfWork
from telemetry.contracts.events import CloudEvent
from telemetry.contracts.events.gas import GasFillCompleted

log = logging.getLogger(__name__)


async def record_fill(event: CloudEvent, uow: UnitOfWork) -> bool:
    fill = GasFillCompleted.from_event(event)
    recorded = await repository.add_fill(uow.conn, event.id, fill)
    if recorded:
        log.info("recorded %s fill %s/%s #%d: %s kg, %d fen", fill.product, fill.station, fill.skid,
                 fill.transaction, fill.mass_kg, fill.amount_fen)
    return recorded


EVENT_HANDLERS: dict[str, list[Handler]] = {GasFillCompleted.TYPE: [record_fill]}
COMMAND_HANDLERS: dict[type, Handler] = {}
