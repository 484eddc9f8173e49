"""Handlers of the IC-card context on the station server's bus.

``fuelling.completed`` → the fuelling point's grey lock learns its order and amount (``due``), in the unit of
work that made the order (the orders context's handler runs first: its context comes first on the bus). The
debit itself is reader I/O and happens after the commit (``desk.Desk.settle_due``). A fuelling seen again
changes nothing: the lock is ``due`` already, and one order has one lock (unique).
"""

from __future__ import annotations

from business_services.ic_cards import repository
from business_services.messagebus import Handler
from business_services.orders import views as orders
from business_services.unit_of_work import UnitOfWork
from telemetry.contracts.events.envelope import CloudEvent
from telemetry.contracts.events.fuelling import LEGACY_FUELING_COMPLETED, FuellingCompleted


async def fuelling_completed(event: CloudEvent, uow: UnitOfWork) -> bool:
    """Whether a lock waited for this fuelling (and is now due)."""
    fuelling = FuellingCompleted.from_event(event)
    lock = await repository.open_lock_at(uow.conn, fuelling.station, fuelling.pump, fuelling.fuelling_point)
    if lock is None or lock.locked_at > fuelling.ended_at:
        return False
    order = await orders.order_of_fuelling(uow.conn, event.id)
    if order is None or await repository.lock_of_order(uow.conn, order[0]) is not None:
        return False
    order_no, owed_fen = order
    return await repository.make_due(uow.conn, lock.card_no, lock.counter, order_no, owed_fen)


EVENT_HANDLERS: dict[str, list[Handler]] = {FuellingCompleted.TYPE: [fuelling_completed],
                                            LEGACY_FUELING_COMPLETED: [fuelling_completed]}
COMMAND_HANDLERS: dict[type, Handler] = {}
