"""Handlers of drive-through payment on the station server's bus (docs/vision.md "Drive-through payment").

``vehicle.recognized`` at a lane camera → the plate's member, if they opted in (``model.refusal``), or else (no
member pays by the plate: none, not opted in, frozen, two) the plate's fleet vehicle card, if its enterprise lets
it pay by plate (``fleet.refusal``), is attached to the fuelling position (a redelivered recognition is one row;
the same car seen again keeps its attachment; another car replaces it). ``fuelling.completed`` at that position →
its order (made first: the orders context comes before this one on the bus) is sold to the member and becomes due;
``service.pay_due`` pays it after the commit. A member who chose 每次确认 is asked first: the order waits
``awaiting`` and ``drive_through.awaiting`` goes up to head office (``confirmations.settle`` asks for the answer).
A fuelling without fuel lapses the attachment. A fuelling seen again changes nothing (one order, one row).
"""

from __future__ import annotations

from typing import cast

from business_services.drive_through import fleet, model, repository
from business_services.messagebus import Handler
from business_services.orders import handlers as orders
from business_services.orders import views as order_views
from business_services.orders.model import AttachMember, OrderConflict
from business_services.station_fleets import repository as station_fleets
from business_services.station_members import repository as members
from business_services.stations import views as stations
from business_services.unit_of_work import UnitOfWork
from telemetry.contracts.events.drive_through import DriveThroughAwaiting
from telemetry.contracts.events.envelope import CloudEvent
from telemetry.contracts.events.fuelling import LEGACY_FUELING_COMPLETED, FuellingCompleted
from telemetry.contracts.events.vision import VehicleRecognized
from telemetry.contracts.members import DriveThroughMethod


async def recognised(event: CloudEvent, uow: UnitOfWork) -> str | None:
    """Why the plate attached nobody, or None when it attached (or was attached already)."""
    seen = VehicleRecognized.from_event(event)
    if seen.fuelling_point is None or seen.direction != "lane":
        return "不是油位摄像机 (not a lane camera)"
    found = await members.members_where(uow.conn, members.BY_PLATE, seen.plate)
    why = model.refusal(found, seen.confidence, model.min_confidence())
    payer: tuple[str | None, str, str | None, bool] | None = None      # (member, method, card, 每次确认)
    if why is None:
        payer = (found[0].member_no, found[0].drive_through, found[0].drive_through_card_no,
                 found[0].drive_through_confirm)
    elif why != model.UNCERTAIN:        # no member pays by it: the plate's fleet vehicle card may, if it allows it
        card = await station_fleets.fleet_card(uow.conn, None, seen.plate)
        if card is not None:
            why = fleet.refusal(card[0])
            payer = None if why is not None else (None, "fleet_credit", card[0].card_no, False)
    if payer is None:
        return why
    held = await repository.open_at(uow.conn, seen.station, seen.fuelling_point, seen.seen_at)
    if held is not None and held.plate == seen.plate:
        return None
    await repository.close_open(uow.conn, seen.station, seen.fuelling_point, model.REPLACED, seen.seen_at)
    await repository.attach(uow.conn, repository.Attachment(
        event.id, seen.station, seen.fuelling_point, seen.plate, *payer[:3], "attached", None, None, "", seen.seen_at,
        model.expires(seen.seen_at, model.attach_minutes()), confirm=payer[3]))
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
    if held.confirm and held.member_no is not None:   # 每次确认: the member confirms on the H5 first (docs/h5.md)
        await _await_confirmation(uow, held.member_no, held, fuelling, order)
        return None
    await repository.make_due(uow.conn, held.recognition_id, order[0])
    return order[0]


async def _await_confirmation(uow: UnitOfWork, member_no: str, held: repository.Attachment,
                              fuelling: FuellingCompleted, order: tuple[str, int]) -> None:
    """The order waits for the member's answer; head office hears of it (and pushes the notice) through the
    station's outbox."""
    until = model.expires(fuelling.ended_at, model.confirm_minutes())
    await repository.make_awaiting(uow.conn, held.recognition_id, order[0], until)
    waiting = DriveThroughAwaiting(
        station=fuelling.station, recognition_id=held.recognition_id, order_no=order[0],
        fuelling_point=fuelling.fuelling_point, member_no=member_no, plate=held.plate,
        method=cast(DriveThroughMethod, held.method), card_no=held.card_no, grade=fuelling.grade,
        volume_l=fuelling.volume_l, amount_fen=order[1], fuelled_at=fuelling.ended_at, expires_at=until)
    uow.emit(await stations.event_topic_for(uow.conn, fuelling.station, waiting.TYPE),
             waiting.envelope(source="business/drive-through", subject=order[0], event_id=waiting.event_id()))


EVENT_HANDLERS: dict[str, list[Handler]] = {VehicleRecognized.TYPE: [recognised],
                                            FuellingCompleted.TYPE: [fuelling_completed],
                                            LEGACY_FUELING_COMPLETED: [fuelling_completed]}
COMMAND_HANDLERS: dict[type, Handler] = {}
