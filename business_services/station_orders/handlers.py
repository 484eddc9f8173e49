"""Head office keeps a copy of every station's orders (``order.created`` / ``order.changed``).

The station server owns its orders (ARCHITECTURE.md "Two roles"); head office only records what it
reports, in any order and any number of times: the facts of an order come with its creation, its state
with each change, and the highest version wins (``repository.py``), so a duplicated or reordered delivery
ends in the same row.
"""

from __future__ import annotations

from business_services.messagebus import Handler
from business_services.station_orders import repository
from business_services.unit_of_work import UnitOfWork
from telemetry.contracts.events import CloudEvent
from telemetry.contracts.events.orders import OrderChanged, OrderCreated


async def keep_created(event: CloudEvent, uow: UnitOfWork) -> None:
    await repository.keep_created(uow.conn, OrderCreated.from_event(event))


async def keep_changed(event: CloudEvent, uow: UnitOfWork) -> None:
    await repository.keep_changed(uow.conn, OrderChanged.from_event(event))


EVENT_HANDLERS: dict[str, list[Handler]] = {OrderCreated.TYPE: [keep_created], OrderChanged.TYPE: [keep_changed]}
COMMAND_HANDLERS: dict[type, Handler] = {}
