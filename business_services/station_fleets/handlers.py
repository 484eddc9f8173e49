"""Handlers of the station's fleet authorisations on the station server's bus.

A fuelling that ends without fuel (``fuelling.completed`` with amount 0: the nozzle lifted and hung back) gives
back the reservation open at its nozzle; head office is told when the next ask goes up (``service.tell_releases``),
and its own expiry job frees it meanwhile.
"""

from __future__ import annotations

from business_services.messagebus import Handler
from business_services.unit_of_work import UnitOfWork
from telemetry.contracts.events import CloudEvent
from telemetry.contracts.events.fuelling import LEGACY_FUELING_COMPLETED, FuellingCompleted


async def release_unused(event: CloudEvent, uow: UnitOfWork) -> int:
    """How many reservations the empty fuelling released (0 or 1)."""
    fuelling = FuellingCompleted.from_event(event)
    if fuelling.amount_fen > 0:
        return 0
    cur = await uow.conn.execute(
        """UPDATE business.station_fleet_authorisations SET state = 'released', closed_at = now(),
               reason = '未加油，授权已释放 (nothing was fuelled: released)', release_told = offline
           WHERE state = 'reserved' AND station = %s AND device = %s AND fuelling_point = %s AND nozzle = %s
               AND asked_at <= %s""",
        (fuelling.station, fuelling.pump, fuelling.fuelling_point, fuelling.nozzle, fuelling.ended_at))
    return cur.rowcount


EVENT_HANDLERS: dict[str, list[Handler]] = {FuellingCompleted.TYPE: [release_unused],
                                             LEGACY_FUELING_COMPLETED: [release_unused]}
COMMAND_HANDLERS: dict[type, Handler] = {}
