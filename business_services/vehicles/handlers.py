"""Vehicles at head office: plate bindings to members, vehicle records, entry/exit records and the plate blacklist.

A binding changes the member's plates in the stations' member list, and a block or unblock changes the list's
blocked plates (``BlockedPlate``), both in the same transaction as the change. Blocks, unblocks, bindings and
unbindings are audited (a member's plate masked: it is personal data; a blocked plate in full, it is the record).
"""

from __future__ import annotations

from typing import Any

from business_services.audit.model import AuditEntry
from business_services.member_list import repository as member_list
from business_services.members import repository as members
from business_services.members.handlers import relist
from business_services.members.model import MemberConflict, MemberNotFound, mask_plate
from business_services.messagebus import Handler
from business_services.unit_of_work import UnitOfWork
from business_services.vehicles import repository
from business_services.vehicles.model import (
    BindVehicle,
    BlockPlate,
    Direction,
    EditVehicle,
    JoinFleet,
    PassageSource,
    RecordPassage,
    UnbindVehicle,
    UnblockPlate,
)
from telemetry.contracts.events import CloudEvent
from telemetry.contracts.events.vision import VehicleRecognized
from telemetry.contracts.members import BlockedPlate


async def bind(c: BindVehicle, uow: UnitOfWork) -> tuple[dict[str, Any], bool]:
    """The vehicle record and whether anything changed."""
    member = await members.member(uow.conn, c.member_no, lock=True)
    if member is None:
        raise MemberNotFound(c.member_no)
    if member["status"] == "erased":
        raise MemberConflict("member_no", f"会员 {c.member_no} 的个人信息已删除 (the member was erased)")
    found = await repository.vehicle_by_plate(uow.conn, c.plate)
    if found is not None and found["member_no"] not in (None, c.member_no):
        raise MemberConflict("plate", "该车牌已绑定其他会员，请先解绑 (the plate is bound to another member; "
                                      "unbind it first)")
    if found is None:
        row = await repository.insert_vehicle(uow.conn, c.plate, c.member_no, c.model, c.colour)
        if row is None:
            raise MemberConflict("plate", "该车牌正被同时绑定，请重试 (the plate is being bound at once; retry)")
    elif found["member_no"] == c.member_no and (not c.model or found["model"] == c.model) \
            and (not c.colour or found["colour"] == c.colour):
        return found, False
    else:
        row = await repository.update_vehicle(uow.conn, found["id"], member_no=c.member_no,
                                              model=c.model or found["model"], colour=c.colour or found["colour"])
    await uow.audit(AuditEntry("vehicles.bind", f"member:{c.member_no}", member["station"], None,
                               {"plate": mask_plate(c.plate), "vehicle_id": row["id"]}))
    await relist(uow.conn, c.member_no)
    return row, True


async def edit(c: EditVehicle, uow: UnitOfWork) -> dict[str, Any]:
    found = await repository.vehicle(uow.conn, c.vehicle_id)
    if found is None:
        raise MemberNotFound(str(c.vehicle_id))
    if (found["model"], found["colour"]) == (c.model, c.colour):
        return found
    return await repository.update_vehicle(uow.conn, c.vehicle_id, model=c.model, colour=c.colour)


async def unbind(c: UnbindVehicle, uow: UnitOfWork) -> dict[str, Any]:
    """The record stays (its entry/exit history, a later fleet binding) without a member."""
    found = await repository.vehicle(uow.conn, c.vehicle_id)
    if found is None:
        raise MemberNotFound(str(c.vehicle_id))
    if found["member_no"] is None:
        return found
    row = await repository.update_vehicle(uow.conn, c.vehicle_id, member_no=None)
    await uow.audit(AuditEntry("vehicles.unbind", f"member:{found['member_no']}", None,
                               {"plate": mask_plate(found["plate"]), "vehicle_id": c.vehicle_id}, None))
    await relist(uow.conn, found["member_no"])
    return row


async def block(c: BlockPlate, uow: UnitOfWork) -> bool:
    """Block a plate (stations refuse or warn on it); the same reason again changes nothing."""
    before = await repository.block(uow.conn, c.plate, c.reason, uow.actor.name)
    if before is not None and before["reason"] == c.reason:
        return False
    await uow.audit(AuditEntry("vehicles.block", f"plate:{c.plate}", None,
                               None if before is None else {"reason": before["reason"]}, {"reason": c.reason}))
    await member_list.record(uow.conn, BlockedPlate(plate=c.plate, reason=c.reason))
    return True


async def unblock(c: UnblockPlate, uow: UnitOfWork) -> bool:
    before = await repository.unblock(uow.conn, c.plate)
    if before is None:
        return False
    await uow.audit(AuditEntry("vehicles.unblock", f"plate:{c.plate}", None, {"reason": before["reason"]},
                               {"reason": c.reason}))
    await member_list.unlist(uow.conn, "blocked_plate", c.plate)
    return True


async def record_passage(c: RecordPassage, uow: UnitOfWork) -> tuple[dict[str, Any], bool]:
    """One entry or exit; the same sighting again (station, plate, direction, time) is the first record."""
    return await repository.insert_passage(uow.conn, c, uow.actor.name)


async def vehicle_recognized(event: CloudEvent, uow: UnitOfWork) -> bool:
    """An entry or exit camera's ``vehicle.recognized`` (vision/service.py) is a passage with source ``vision``;
    a lane camera's is the station's business (drive-through payment), not a passage."""
    seen = VehicleRecognized.from_event(event)
    if seen.direction == "lane":
        return False
    _, new = await record_passage(RecordPassage(seen.plate, seen.station, Direction(seen.direction), seen.seen_at,
                                                PassageSource.VISION, lane=seen.camera,
                                                confidence=round(seen.confidence, 3)), uow)
    return new


EVENT_HANDLERS: dict[str, list[Handler]] = {VehicleRecognized.TYPE: [vehicle_recognized]}
async def join_fleet(c: JoinFleet, uow: UnitOfWork) -> dict[str, Any]:
    """The vehicle record, on the fleet's whitelist (``fleet_id``); the fleets context audits the card it came with."""
    found = await repository.vehicle_by_plate(uow.conn, c.plate)
    if found is not None and found["fleet_id"] not in (None, c.fleet_id):
        raise MemberConflict("plate", "该车辆已属于其他车队企业，请先从原企业移出 (the vehicle is another fleet's)")
    if found is None:
        row = await repository.insert_fleet_vehicle(uow.conn, c.plate, c.fleet_id)
        if row is None:
            raise MemberConflict("plate", "该车牌正被同时登记，请重试 (the plate is being recorded at once; retry)")
        return row
    if found["fleet_id"] == c.fleet_id:
        return found
    return await repository.update_vehicle(uow.conn, found["id"], fleet_id=c.fleet_id)


COMMAND_HANDLERS: dict[type, Handler] = {BindVehicle: bind, EditVehicle: edit, UnbindVehicle: unbind,
                                         BlockPlate: block, UnblockPlate: unblock, RecordPassage: record_passage,
                                         JoinFleet: join_fleet}
