"""Vehicles at head office (docs/vehicles.md): bind a plate to a member, vehicle records, entry/exit records (the
vision issue fills them later; an API adds one now) and the plate blacklist the stations receive in their member
list.

Permissions: reads ``member:read``; binding ``member:write`` or ``member:register`` (the POS binds a plate as it
registers); the rest ``member:write``. Plates are masked unless the caller holds ``pii:read`` (a blocked plate is
shown whole: it is the blacklist itself). Entry/exit records respect the caller's stations. Every POST takes an
``Idempotency-Key``; binds, unbinds, blocks and unblocks are audited. Head office only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, status
from fastapi.responses import Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from business_services.members.model import Disclosure, MemberError, MemberNotFound, plate, shown
from business_services.unit_of_work import UnitOfWork
from business_services.vehicles import views
from business_services.vehicles.model import (
    COLOUR_MAX,
    MODEL_MAX,
    REASON_MAX,
    BindVehicle,
    BlockPlate,
    Direction,
    EditVehicle,
    PassageSource,
    RecordPassage,
    UnbindVehicle,
    UnblockPlate,
    text,
)
from control_api.deps import Db, RowId
from control_api.idempotency import IdempotencyKey, once
from control_api.pagination import Cursor, Limit, after, page
from control_api.routes.members import MemberNoPath, head_office, refused
from control_api.security import Principal, require
from telemetry.contracts.identifiers import Code

router = APIRouter(prefix="/api/v1", tags=["vehicles"], dependencies=[Depends(head_office)])
Reader = Annotated[Principal, Depends(require("member:read"))]
Binder = Annotated[Principal, Depends(require("member:write", "member:register"))]
Writer = Annotated[Principal, Depends(require("member:write"))]
PlatePath = Annotated[str, Path(max_length=12, description="车牌 (a plate), e.g. 京A12345")]


class VehicleBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    plate: Annotated[str, Field(max_length=12)]
    model: Annotated[str, Field(max_length=MODEL_MAX, description="车型")] = ""
    colour: Annotated[str, Field(max_length=COLOUR_MAX, description="颜色")] = ""


class VehicleEdit(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: Annotated[str, Field(max_length=MODEL_MAX)] = ""
    colour: Annotated[str, Field(max_length=COLOUR_MAX)] = ""


class VehiclePublic(BaseModel):
    id: int
    plate: str
    member_no: str | None
    fleet_id: int | None
    model: str
    colour: str
    created_at: datetime
    updated_at: datetime


class VehicleBound(VehiclePublic):
    changed: bool        # false: this plate was bound to this member already


class PassageBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    plate: Annotated[str, Field(max_length=12)]
    station: Code
    direction: Direction
    at: AwareDatetime
    lane: Annotated[str, Field(max_length=16)] = ""
    source: PassageSource = PassageSource.MANUAL
    confidence: Annotated[float | None, Field(ge=0, le=1)] = None


class PassagePublic(BaseModel):
    id: int
    plate: str
    station: str
    lane: str
    direction: str
    at: datetime
    source: str
    confidence: float | None
    recorded_by: str


class BlockBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    plate: Annotated[str, Field(max_length=12)]
    reason: Annotated[str, Field(max_length=REASON_MAX, description="拉黑原因，如 多次逃单")]


class UnblockBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[str, Field(max_length=REASON_MAX, description="解除原因")]


class BlockedPublic(BaseModel):
    plate: str
    reason: str
    blocked_by: str | None = None
    blocked_at: datetime | None = None
    changed: bool = True


def _shown(row: dict[str, Any], who: Principal) -> dict[str, Any]:
    return shown(row, Disclosure.of(who.permissions))


# --- vehicles --------------------------------------------------------------------------------------------------

@router.post("/members/{member_no}/vehicles", response_model=VehicleBound)
async def bind(member_no: MemberNoPath, body: VehicleBody, request: Request, db: Db, who: Binder,
               key: IdempotencyKey) -> Any:
    """Bind a plate to the member (201 when a record was made or changed, 200 when it was bound already); a plate
    bound to another member is 409."""
    try:
        command = BindVehicle(member_no, plate(body.plate), text("model", body.model, "车型", MODEL_MAX),
                              text("colour", body.colour, "颜色", COLOUR_MAX))
    except MemberError as exc:
        return refused(exc)

    async def work() -> VehicleBound:
        async with db.connection() as conn, UnitOfWork(conn, who.actor) as uow:
            row, changed = await request.app.state.bus.handle(command, uow)
        return VehicleBound.model_validate(_shown(row, who) | {"changed": changed})
    try:
        answer = await once(request, db, who, key, work)
    except (MemberError, MemberNotFound) as exc:
        return refused(exc)
    if answer.status_code == 200 and b'"changed":true' in answer.body:
        answer.status_code = status.HTTP_201_CREATED
    return answer


@router.get("/vehicles")
async def list_vehicles(who: Reader, db: Db, cursor: Cursor = "", limit: Limit = 20,
                        plate_: Annotated[str, Query(alias="plate", max_length=12)] = "",
                        member_no: Annotated[str, Query(max_length=13, pattern=r"^(M[0-9]{8,12})?$")] = "",
                        ) -> dict[str, Any]:
    async with db.connection() as conn:
        rows, total, last = await views.vehicles(conn, plate=plate_.strip().upper(), member_no=member_no,
                                                 after=after(cursor, views.NEWEST_FIRST), limit=limit)
    return page([VehiclePublic.model_validate(_shown(r, who)) for r in rows], total, views.NEWEST_FIRST, last)


# --- entry/exit records ------------------------------------------------------------------------------------------

@router.get("/vehicles/passages")
async def list_passages(who: Reader, db: Db, cursor: Cursor = "", limit: Limit = 20,
                        plate_: Annotated[str, Query(alias="plate", max_length=12)] = "",
                        station: Annotated[str, Query(max_length=32)] = "") -> dict[str, Any]:
    """Entry/exit records newest first, of the caller's stations."""
    if station:
        who.check_station(station)
    async with db.connection() as conn:
        rows, total, last = await views.passages(conn, plate=plate_.strip().upper(), station=station,
                                                 scope=who.stations, after=after(cursor, views.NEWEST_FIRST),
                                                 limit=limit)
    return page([PassagePublic.model_validate(_shown(r, who)) for r in rows], total, views.NEWEST_FIRST, last)


@router.post("/vehicles/passages", response_model=PassagePublic)
async def record_passage(body: PassageBody, request: Request, db: Db, who: Writer, key: IdempotencyKey) -> Any:
    """One entry or exit (the vision issue's cameras will post these); the same sighting again is the first."""
    who.check_station(body.station)
    try:
        command = RecordPassage(plate(body.plate), body.station, body.direction, body.at, body.source,
                                text("lane", body.lane, "车道", 16), body.confidence)
    except MemberError as exc:
        return refused(exc)

    async def work() -> PassagePublic:
        async with db.connection() as conn, UnitOfWork(conn, who.actor) as uow:
            row, _ = await request.app.state.bus.handle(command, uow)
        return PassagePublic.model_validate(_shown(row, who))
    return await once(request, db, who, key, work)


# --- the plate blacklist -----------------------------------------------------------------------------------------

@router.get("/vehicles/blocked-plates")
async def list_blocked(who: Reader, db: Db, cursor: Cursor = "", limit: Limit = 20,
                       plate_: Annotated[str, Query(alias="plate", max_length=12)] = "") -> dict[str, Any]:
    async with db.connection() as conn:
        rows, total, last = await views.blocked_plates(conn, plate=plate_.strip().upper(),
                                                       after=after(cursor, views.BLOCKED_NEWEST), limit=limit)
    return page([BlockedPublic.model_validate(r) for r in rows], total, views.BLOCKED_NEWEST, last)


@router.post("/vehicles/blocked-plates", response_model=BlockedPublic)
async def block(body: BlockBody, request: Request, db: Db, who: Writer, key: IdempotencyKey) -> Any:
    """Block a plate, with the reason (a new reason for a blocked plate replaces the old one); listed to every
    station as a ``BlockedPlate``. Audited."""
    try:
        command = BlockPlate(plate(body.plate), text("reason", body.reason, "原因", REASON_MAX, required=True))
    except MemberError as exc:
        return refused(exc)

    async def work() -> BlockedPublic:
        async with db.connection() as conn:
            async with UnitOfWork(conn, who.actor) as uow:
                changed = await request.app.state.bus.handle(command, uow)
            row = await views.blocked(conn, command.plate)
        return BlockedPublic.model_validate((row or {}) | {"changed": changed})
    return await once(request, db, who, key, work)


@router.post("/vehicles/blocked-plates/{plate_no}/unblock", response_model=BlockedPublic)
async def unblock(plate_no: PlatePath, body: UnblockBody, request: Request, db: Db, who: Writer,
                  key: IdempotencyKey) -> Any:
    try:
        command = UnblockPlate(plate(plate_no), text("reason", body.reason, "原因", REASON_MAX, required=True))
    except MemberError as exc:
        return refused(exc)

    async def work() -> BlockedPublic:
        async with db.connection() as conn, UnitOfWork(conn, who.actor) as uow:
            changed = await request.app.state.bus.handle(command, uow)
        return BlockedPublic(plate=command.plate, reason=command.reason, changed=changed)
    return await once(request, db, who, key, work)


# --- a vehicle record --------------------------------------------------------------------------------------------

@router.patch("/vehicles/{vehicle_id}", response_model=VehiclePublic)
async def edit(vehicle_id: RowId, body: VehicleEdit, request: Request, db: Db, who: Writer) -> Any:
    try:
        command = EditVehicle(vehicle_id, text("model", body.model, "车型", MODEL_MAX),
                              text("colour", body.colour, "颜色", COLOUR_MAX))
        async with db.connection() as conn, UnitOfWork(conn, who.actor) as uow:
            row = await request.app.state.bus.handle(command, uow)
    except (MemberError, MemberNotFound) as exc:
        return refused(exc)
    return VehiclePublic.model_validate(_shown(row, who)).model_dump(mode="json")


@router.post("/vehicles/{vehicle_id}/unbind", response_model=VehiclePublic)
async def unbind(vehicle_id: RowId, request: Request, db: Db, who: Writer, key: IdempotencyKey) -> Response:
    """The plate no longer belongs to its member (the record and its history stay). Audited."""
    async def work() -> VehiclePublic:
        async with db.connection() as conn, UnitOfWork(conn, who.actor) as uow:
            row = await request.app.state.bus.handle(UnbindVehicle(vehicle_id), uow)
        return VehiclePublic.model_validate(_shown(row, who))
    try:
        return await once(request, db, who, key, work)
    except MemberNotFound as exc:
        return refused(exc)
