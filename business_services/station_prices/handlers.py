"""Handlers of the station's prices, each ``(message, uow) -> result``.

- ``price.applied`` (from the station's own edge node) → the nozzle's newest report for its version (once by
  event id through the consumer's ``handled_events``; a repeat or an older report changes nothing);
- ``HoldPriceSet`` → the set the edge node holds (``forecourt/station_prices.py`` follows its file), audited.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from business_services.audit.model import AuditEntry
from business_services.messagebus import Handler
from business_services.station_prices import repository
from business_services.unit_of_work import UnitOfWork
from telemetry.contracts.events import CloudEvent
from telemetry.contracts.prices import PRICE_APPLIED, PriceApplied, PriceSet

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class HoldPriceSet:
    """Hold the price set the station's edge node keeps (its file), if this version is not held yet."""

    price_set: PriceSet


async def hold_price_set(command: HoldPriceSet, uow: UnitOfWork) -> bool:
    s = command.price_set
    if not await repository.hold_set(uow.conn, s):
        return False
    await uow.audit(AuditEntry("price_set.held", f"{s.station}/price-set/{s.version}", s.station, None,
                               {"version": s.version, "change_no": s.change_no, "grades": s.grades,
                                "effective_at": s.effective_at.isoformat()}))
    return True


async def keep_report(event: CloudEvent, uow: UnitOfWork) -> None:
    report = PriceApplied.from_event(event)
    kept = await repository.keep_report(uow.conn, report, event.id)
    if kept and report.state == "refused":
        log.warning("price set %d refused at %s fp%d nozzle %d (try %d): %s", report.version, report.device,
                    report.fuelling_point, report.nozzle, report.attempt, report.detail)


EVENT_HANDLERS: dict[str, list[Handler]] = {PRICE_APPLIED: [keep_report]}
COMMAND_HANDLERS: dict[type, Handler] = {HoldPriceSet: hold_price_set}
