"""Handlers of the audit context at head office: a station's ``audit.recorded`` joins that station's copy, once."""

from __future__ import annotations

from business_services.audit import repository
from business_services.messagebus import Handler
from business_services.unit_of_work import UnitOfWork
from telemetry.contracts.events import CloudEvent
from telemetry.contracts.events.audit import AuditRecorded


async def keep_station_record(event: CloudEvent, uow: UnitOfWork) -> bool:
    """False when this station's record of that seq is already kept (a redelivery changes nothing)."""
    return await repository.keep_station_copy(uow.conn, AuditRecorded.from_event(event))


EVENT_HANDLERS: dict[str, list[Handler]] = {AuditRecorded.TYPE: [keep_station_record]}
COMMAND_HANDLERS: dict[type, Handler] = {}
