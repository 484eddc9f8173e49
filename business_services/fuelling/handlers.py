"""Handlers of the fuelling context: one function per event or command, each ``(message, uow) -> result``.

- ``fuelling.completed`` (and the legacy ``fueling.completed``) → one recorded transaction;
- ``fuelling.gap`` → one open gap;
- ``SettleGap`` → the gap closed, with an audit record.

Event payloads are parsed with the contract model the edge built them with; their station is the topic's,
which the consumer's intake has checked. A repeat is a no-op (False).
"""

from __future__ import annotations

import logging

from business_services.audit.model import AuditEntry
from business_services.fuelling import repository
from business_services.fuelling.model import InvalidCommand, SettleGap
from business_services.messagebus import Handler
from business_services.unit_of_work import UnitOfWork
from telemetry.contracts.events import CloudEvent
from telemetry.contracts.events.fuelling import LEGACY_FUELING_COMPLETED, FuellingCompleted, FuellingGap

log = logging.getLogger(__name__)


async def record_fuelling(event: CloudEvent, uow: UnitOfWork) -> bool:
    transaction = FuellingCompleted.from_event(event)
    recorded = await repository.add_fuelling(uow.conn, event.id, transaction)
    if recorded:
        log.info("recorded fuelling %s/%s fp%d #%d: %s L, %d fen", transaction.station, transaction.pump,
                 transaction.fuelling_point, transaction.transaction, transaction.volume_l, transaction.amount_fen)
    return recorded


async def record_gap(event: CloudEvent, uow: UnitOfWork) -> bool:
    gap = FuellingGap.from_event(event)
    recorded = await repository.add_gap(uow.conn, event.id, gap)
    if recorded:
        log.warning("recorded fuelling gap %s/%s fp%d nozzle %d: %s L (totalizer %s → %s)", gap.station, gap.pump,
                    gap.fuelling_point, gap.nozzle, gap.volume_l, gap.totalizer_from_l, gap.totalizer_to_l)
    return recorded


async def settle_gap(command: SettleGap, uow: UnitOfWork) -> bool:
    """True when the gap was open and is now settled; False when it is unknown or already settled."""
    station = await repository.settle_gap(uow.conn, command)
    if station is None:
        return False
    await uow.audit(AuditEntry("fuelling.gap.settle", f"gap:{command.gap_id}", station, {"status": "open"},
                               {"status": "settled", "by": command.by, "note": command.note}))
    return True


EVENT_HANDLERS: dict[str, list[Handler]] = {
    FuellingCompleted.TYPE: [record_fuelling],
    LEGACY_FUELING_COMPLETED: [record_fuelling],   # from edge outboxes written before the upgrade
    FuellingGap.TYPE: [record_gap],
}
COMMAND_HANDLERS: dict[type, Handler] = {SettleGap: settle_gap}

__all__ = ["COMMAND_HANDLERS", "EVENT_HANDLERS", "InvalidCommand", "record_fuelling", "record_gap", "settle_gap"]
