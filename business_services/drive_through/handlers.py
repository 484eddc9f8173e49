"""Handlers of drive-through payment on the station server's bus (docs/vision.md "Drive-through payment").

``vehicle.recognized`` at a lane camera → the plate's member, if they opted in (``model.refusal``), or else the
plate's fleet vehicle card, if its enterprise lets it pay by plate (``fleet.refusal``), is attached to the fuelling
position (a redelivered recognition is one row; the same car seen again keeps its attachment;
another car replaces it). ``fuelling.completed`` at that position → its order (made first: the orders context
comes before this one on the bus) is sold to the member and becomes due; ``service.pay_due`` pays it after the
commit. A fuelling without fuel lapses the attachment. A fuelling seen again changes nothing (one order, one row).
"""

from __future__ import annotations

from business_services.drive_through import fleet, model, repository
from business_services.messagebus import Handler
from business_services.orders import handlers as orders
from business_services.orders import views as order_views
from business_services.orders.model import AttachMember, OrderConflict
from business_services.station_fleets import repository as station_fleets
from business_services.station_members import repository as members
from business_services.unit_of_work import UnitOfWork
from telemetry.contracts.events.envelope import CloudEvent
from telemetry.contracts.events.fuelling import LEGACY_FUELING_COMPLETED, FuellingCompleted
from telemetry.contracts.events.vision import VehicleRecognized


async def recognised(event: CloudEvent, uow: UnitOfWork) -> str | None:
    """Why the plate attached nobody, or None when it attached (or was attached already)."""
    seen = VehicleRecognized.from_event(event)
    if seen.fuelling_point is None or seen.direction != "lane":
        return "不是油位摄像机 (not a lane camera)"
    found = await members.members_where(uow.conn, members.BY_PLATE, seen.plate)
    why = model.refusal(found, seen.confidence, model.min_confidence())
    payer: tuple[str | None, str, str | None] | None = None      # (member, method, card)
    if why is None:
        payer = (found[0].member_no, found[0].drive_through, found[0].drive_through_card_no)
    elif why == model.NOT_A_MEMBER and not found:                # a fleet vehicle card's plate, if it allows it
        card = await station_fleets.fleet_card(uow.conn, None, seen.plate)
        why = fleet.refusal(card[0] if card else None)
        payer = None if why is not None or card is None else (None, "fleet_credit", card[0].card_no)
    if payer is None:
        return why
    held = await repository.open_at(uow.conn, seen.station, seen.fuelling_point, seen.seen_at)
    if held is not None and held.plate == seen.plate:
        return None
    await repository.close_open(uow.conn, seen.station, seen.fuelling_point, model.REPLACED, seen.seen_at)
    await repository.attach(uow.conn, repository.Attachment(
        event.id, seen.station, seen.fuelling_point, seen.plate, *payer, "attached", None, None, "", seen.seen_at,
        model.expires(seen.seen_at, model.attach_minutes())))
    return None


async def fuelling_completed(event: CloudEvent, uow: UnitOfWork) -> str | None:
    """The order that became due, if the position held an attachment."""
    fuelling = FuellingCompleted.from_event(event)
    if fuelling.amount_fen == 0:
        await repository.close_open(uow.conn, fuelling.station, fuelling.fuelling_point, model.IDLE, fuelling.ended_at)
        return None
    held = await repository.open_at(uow.conn, fuelling.station, fuelling.fuelling_point, fuelling.started_at,
                                    fuelling.ended_at)
    order = await order_views.order_of_fuelling(uow.conn, event.id)
    if held is None or order is None or await repository.has_order(uow.conn, order[0]):
        return None
    try:
        if held.member_no is not None:  # a fleet vehicle card's order is sold to nobody: the card pays it
            await orders.attach_member(AttachMember(fuelling.station, (order[0],), held.member_no, held.plate), uow)
    except OrderConflict:               # already paid or held: the cashier has it (the order is never undone)
        return None
    await repository.make_due(uow.conn, held.recognition_id, order[0])
    return order[0]


EVENT_HANDLERS: dict[str, list[Handler]] = {VehicleRecognized.TYPE: [recognised],
                                            FuellingCompleted.TYPE: [fuelling_completed],
                                            LEGACY_FUELING_COMPLETED: [fuelling_completed]}
COMMAND_HANDLERS: dict[type, Handler] = {}
