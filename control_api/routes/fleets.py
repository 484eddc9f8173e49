"""Fleet enterprises and their money at head office (docs/fleets.md "Enterprises and accounts"): the enterprise
list (filters, totals; Excel export ``fleet_enterprises``), create (reviewed), edit (credit and settlement
reviewed), freeze / unfreeze / close one or many (reviewed), groups, recharge, allocation to cards and back,
adjustments (approved), an enterprise's history, cards and account statements.

Reads need ``fleet:read``, changes ``fleet:write``; reviews are decided in the approvals inbox by another holder of
``fleet:approve``. An enterprise is managed by the users of its maintaining station: every route respects the
caller's stations. Contacts' phones, card numbers and plates are masked without ``pii:read``. Every POST that
moves money takes an ``Idempotency-Key`` (a retry answers as the first time).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field

from business_services.access.model import mask_phone
from business_services.cards.model import mask_card_no, mask_plate
from business_services.fleets import views
from business_services.fleets.commands import (
    Allocate,
    CreateEnterprise,
    CreateGroup,
    EditEnterprise,
    MoveToGroup,
    Recharge,
    RequestAdjustment,
    SetStatus,
)
from business_services.fleets.model import MAX_BATCH, MAX_CARDS, FleetError, FleetNotFound, FleetRefused, Status
from business_services.ledger.views import NEWEST_FIRST
from business_services.unit_of_work import UnitOfWork
from control_api.deps import Db
from control_api.idempotency import IdempotencyKey, once
from control_api.pagination import Cursor, Limit, after, page
from control_api.security import Principal, require
from telemetry.contracts.events.payments import DocumentNo, Method
from telemetry.contracts.identifiers import PLAIN_TEXT as PLAIN
from telemetry.contracts.identifiers import Code

router = APIRouter(prefix="/api/v1", tags=["fleets"])
Reader = Annotated[Principal, Depends(require("fleet:read"))]
Writer = Annotated[Principal, Depends(require("fleet:write"))]
EnterpriseCode = Annotated[str, Path(pattern=r"^E[0-9]{6}$", description="企业编号，如 E000001")]
CodeField = Annotated[str, Field(pattern=r"^E[0-9]{6}$")]
Fen = Annotated[int, Field(gt=0, le=1_000_000_000)]
GroupId = Annotated[int, Field(ge=1, le=2**62)]
CardNo = Annotated[str, Field(pattern=r"^[0-9]{16}([0-9]{3})?$")]
Note = Annotated[str, Field(max_length=200, pattern=PLAIN)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Contact(_Body):
    name: Annotated[str, Field(min_length=1, max_length=32, pattern=PLAIN)]
    phone: Annotated[str, Field(pattern=r"^[0-9+\-]{5,20}$")]
    role: Annotated[str, Field(max_length=32, pattern=PLAIN)] = ""


class Editable(_Body):
    """What an enterprise is; on an edit every field is optional and only those sent change."""

    name: Annotated[str, Field(min_length=1, max_length=100, pattern=PLAIN)] | None = None
    customer_code: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")] | None = None
    tax_no: Annotated[str, Field(pattern=r"^([0-9A-Z]{15,20})?$")] | None = None
    responsible_stations: Annotated[list[Code], Field(max_length=200)] | None = None
    contacts: Annotated[list[Contact], Field(max_length=20)] | None = None
    price_agreement: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")] | None = None
    group_id: GroupId | None = None
    settlement: Literal["prepaid", "credit"] | None = None
    credit_limit_fen: Annotated[int, Field(ge=0, le=10**11)] | None = None
    credit_days: Annotated[int, Field(ge=0, le=365)] | None = None
    statement_day: Annotated[int, Field(ge=1, le=28)] | None = None
    warn_pct: Annotated[int, Field(ge=1, le=100)] | None = None

    def fields(self) -> dict[str, Any]:
        sent = self.model_dump(exclude_unset=True, exclude={"note", "maintaining_station"})
        return {k: v for k, v in sent.items() if v is not None or k in ("price_agreement", "group_id")}


class EnterpriseCreate(Editable):
    name: Annotated[str, Field(min_length=1, max_length=100, pattern=PLAIN)]
    maintaining_station: Code
    settlement: Literal["prepaid", "credit"] = "prepaid"
    credit_limit_fen: Annotated[int, Field(ge=0, le=10**11)] = 0


class EnterpriseEdit(Editable):
    note: Note = ""


class StatusBody(_Body):
    codes: Annotated[list[CodeField], Field(min_length=1, max_length=MAX_BATCH)]
    status: Status
    note: Annotated[str, Field(min_length=1, max_length=200, pattern=PLAIN)]


class GroupMove(_Body):
    codes: Annotated[list[CodeField], Field(min_length=1, max_length=MAX_BATCH)]
    group_id: GroupId | None


class GroupCreate(_Body):
    name: Annotated[str, Field(min_length=1, max_length=64, pattern=PLAIN)]


class RechargeBody(_Body):
    recharge_no: DocumentNo
    paid_fen: Fen
    gift_fen: Annotated[int, Field(ge=0, le=1_000_000_000)] = 0
    method: Method
    station: Code
    shift_no: DocumentNo | None = None


class AllocationLine(_Body):
    card_no: CardNo
    amount_fen: Fen


class AllocationBody(_Body):
    allocation_no: DocumentNo
    lines: Annotated[list[AllocationLine], Field(min_length=1, max_length=MAX_CARDS)]
    back: bool = False
    gift: bool = False


class AdjustmentBody(_Body):
    adjustment_no: DocumentNo
    amount_fen: Annotated[int, Field(ge=-1_000_000_000, le=1_000_000_000)]
    gift: bool = False
    reason: Annotated[str, Field(min_length=1, max_length=200, pattern=PLAIN)]


class Answer(BaseModel):
    """What a change answers (kept under its Idempotency-Key)."""

    model_config = ConfigDict(extra="allow")


# ---- one way to run a command and one way to refuse -------------------------------------------------------

def _refused(exc: Exception) -> HTTPException:
    if isinstance(exc, FleetError):
        return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, exc.message)
    if isinstance(exc, FleetRefused):
        return HTTPException(status.HTTP_409_CONFLICT, exc.message)
    return HTTPException(status.HTTP_404_NOT_FOUND, f"没有企业 {exc}，请核对编号 (no such enterprise)")


async def handle(request: Request, db: Db, who: Principal, command: Any) -> Any:
    """The command through the bus in one unit of work; a rule's refusal as 422/409/404."""
    try:
        async with db.connection() as conn, UnitOfWork(conn, who.actor) as uow:
            return await request.app.state.bus.handle(command, uow)
    except (FleetError, FleetRefused, FleetNotFound) as exc:
        raise _refused(exc) from None


async def once_through_bus(request: Request, db: Db, who: Principal, key: str, command: Any) -> Any:
    """``handle`` under the request's Idempotency-Key: a retry answers as the first time."""
    async def work() -> Answer:
        return Answer.model_validate(await handle(request, db, who, command))
    return await once(request, db, who, key, work)


def command_of(make: Any) -> Any:
    try:
        return make()
    except FleetError as exc:
        raise _refused(exc) from None


async def enterprise_of(db: Db, code: str, who: Principal) -> dict[str, Any]:
    """The enterprise with its money, within the caller's stations (404, 403)."""
    async with db.connection() as conn:
        row = await views.enterprise(conn, code)
    if row is None:
        raise _refused(FleetNotFound(code))
    who.check_station(row["maintaining_station"])
    return row


async def _in_scope(db: Db, codes: list[str], who: Principal) -> None:
    """Every enterprise named exists (404) and is within the caller's stations (403)."""
    async with db.connection() as conn:
        stations = await views.stations_of(conn, codes)
    for code in codes:
        if code not in stations:
            raise _refused(FleetNotFound(code))
        who.check_station(stations[code])


def shown(row: dict[str, Any], who: Principal) -> dict[str, Any]:
    """An enterprise as this caller may see it: contacts' phones masked without ``pii:read``."""
    if who.may("pii:read") or not row.get("contacts"):
        return row
    return row | {"contacts": [c | {"phone": mask_phone(c.get("phone"))} for c in row["contacts"]]}


# ---- enterprises --------------------------------------------------------------------------------------------

@router.get("/fleet-enterprises")
async def list_enterprises(who: Reader, db: Db, filters: Annotated[views.EnterpriseFilter, Query()],
                           cursor: Cursor = "", limit: Limit = 20) -> dict[str, Any]:
    """Enterprises by code among the caller's stations, with the totals over the filter (count, prepaid, gift,
    debt, remaining credit); the Excel export ``fleet_enterprises`` takes the same filters."""
    if filters.station:
        who.check_station(filters.station)
    async with db.connection() as conn:
        found, total, last = await views.enterprises(conn, filters, who.stations, limit=limit,
                                                     after=after(cursor, views.BY_CODE))
        totals = await views.totals(conn, filters, who.stations)
    return page(found, total, views.BY_CODE, last) | {"totals": totals}


@router.post("/fleet-enterprises")
async def create_enterprise(body: EnterpriseCreate, request: Request, db: Db, who: Writer,
                            key: IdempotencyKey) -> Any:
    """A new enterprise (code E000001 …), pending until another person with fleet:approve approves it."""
    for station in (body.maintaining_station, *(body.responsible_stations or ())):
        who.check_station(station)
    profile = body.model_dump(exclude_none=True)
    command = command_of(lambda: CreateEnterprise(profile, who.username))

    return await once_through_bus(request, db, who, key, command)


@router.post("/fleet-enterprises/batch/status")
async def set_status(body: StatusBody, request: Request, db: Db, who: Writer) -> dict[str, Any]:
    """Freeze, unfreeze or close one or many enterprises: each waits for review (all asked, or none)."""
    await _in_scope(db, body.codes, who)
    asked = await handle(request, db, who, command_of(lambda: SetStatus(tuple(body.codes), body.status, body.note)))
    return {"requests": asked}


@router.post("/fleet-enterprises/batch/group")
async def move_to_group(body: GroupMove, request: Request, db: Db, who: Writer) -> dict[str, Any]:
    """Put one or many enterprises in a group (``group_id`` null: in none), at once."""
    await _in_scope(db, body.codes, who)
    moved = await handle(request, db, who, command_of(lambda: MoveToGroup(tuple(body.codes), body.group_id)))
    return {"moved": moved}


@router.get("/fleet-enterprises/{enterprise}")
async def read_enterprise(enterprise: EnterpriseCode, who: Reader, db: Db) -> dict[str, Any]:
    """The enterprise: profile, balances, debt, remaining credit, over-limit flag, the change awaiting review."""
    return shown(await enterprise_of(db, enterprise, who), who)


@router.patch("/fleet-enterprises/{enterprise}")
async def edit_enterprise(enterprise: EnterpriseCode, body: EnterpriseEdit, request: Request, db: Db,
                          who: Writer) -> dict[str, Any]:
    """Change fields: most apply at once; credit line, settlement, credit days and statement day wait for review
    (``review``: the approval asked). Every change lands in the history."""
    await enterprise_of(db, enterprise, who)
    if not body.fields():
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "请至少修改一项 (change at least one field)")
    for station in body.responsible_stations or ():
        who.check_station(station)
    done: dict[str, Any] = await handle(request, db, who, EditEnterprise(enterprise, body.fields(), body.note))
    return done | {"enterprise": shown(await enterprise_of(db, enterprise, who), who)}


@router.get("/fleet-enterprises/{enterprise}/history")
async def enterprise_history(enterprise: EnterpriseCode, who: Reader, db: Db) -> dict[str, Any]:
    """Every change of the enterprise, newest first: applied, pending review, rejected."""
    await enterprise_of(db, enterprise, who)
    async with db.connection() as conn:
        found = await views.history(conn, enterprise)
    if not who.may("pii:read"):
        for change in found:
            for side in ("before", "after"):
                if change[side] and change[side].get("contacts"):
                    change[side] = shown(change[side], who)
    return {"items": found}


@router.get("/fleet-enterprises/{enterprise}/cards")
async def enterprise_cards(enterprise: EnterpriseCode, who: Reader, db: Db) -> dict[str, Any]:
    """The enterprise's cards with their balances (read-only here); numbers and plates masked without pii:read."""
    await enterprise_of(db, enterprise, who)
    async with db.connection() as conn:
        found = await views.cards(conn, enterprise)
    if not who.may("pii:read"):
        found = [r | {"card_no": mask_card_no(r["card_no"]), "plate": r["plate"] and mask_plate(r["plate"])}
                 for r in found]
    return {"items": found}


@router.get("/fleet-enterprises/{enterprise}/statement")
async def enterprise_statement(enterprise: EnterpriseCode, who: Reader, db: Db,
                               account: Literal["prepaid", "gift", "receivable"] = "prepaid", cursor: Cursor = "",
                               limit: Limit = 50) -> dict[str, Any]:
    """Postings of one of its accounts, newest first (prepaid, gift, or receivable: its debt)."""
    await enterprise_of(db, enterprise, who)
    async with db.connection() as conn:
        found, total, last = await views.statement(conn, enterprise, account, limit=limit,
                                                   after=after(cursor, NEWEST_FIRST))
    return page(found, total, NEWEST_FIRST, last)


# ---- money --------------------------------------------------------------------------------------------------

@router.post("/fleet-enterprises/{enterprise}/recharges")
async def recharge(enterprise: EnterpriseCode, body: RechargeBody, request: Request, db: Db, who: Writer,
                   key: IdempotencyKey) -> Any:
    """企业充值 at a station: paid into the prepaid balance, the gift into the gift balance; the balances after.
    The same recharge number again posts nothing."""
    await enterprise_of(db, enterprise, who)
    who.check_station(body.station)
    command = command_of(lambda: Recharge(enterprise, body.recharge_no, body.paid_fen, body.gift_fen, body.method,
                                          body.station, body.shift_no, datetime.now(UTC)))

    return await once_through_bus(request, db, who, key, command)


@router.post("/fleet-enterprises/{enterprise}/allocations")
async def allocate(enterprise: EnterpriseCode, body: AllocationBody, request: Request, db: Db, who: Writer,
                   key: IdempotencyKey) -> Any:
    """划拨 to one or many of its cards (``back``: 回收 from them), all or none; refused for want of balance."""
    await enterprise_of(db, enterprise, who)
    command = command_of(lambda: Allocate(enterprise, body.allocation_no,
                                          tuple((line.card_no, line.amount_fen) for line in body.lines), body.back,
                                          body.gift, datetime.now(UTC)))

    return await once_through_bus(request, db, who, key, command)


@router.post("/fleet-enterprises/{enterprise}/adjustments")
async def adjust(enterprise: EnterpriseCode, body: AdjustmentBody, request: Request, db: Db, who: Writer,
                 key: IdempotencyKey) -> Any:
    """调账: asks for approval; the balance moves when another person with fleet:approve approves."""
    await enterprise_of(db, enterprise, who)
    command = command_of(lambda: RequestAdjustment(enterprise, body.adjustment_no, body.amount_fen, body.gift,
                                                   body.reason))

    return await once_through_bus(request, db, who, key, command)


# ---- groups -------------------------------------------------------------------------------------------------

@router.get("/fleet-groups")
async def list_groups(who: Reader, db: Db) -> dict[str, Any]:
    """Groups by name, each with how many enterprises (of the caller's stations) it holds."""
    async with db.connection() as conn:
        found = await views.groups(conn, who.stations)
    return {"items": found}


@router.post("/fleet-groups", status_code=status.HTTP_201_CREATED)
async def create_group(body: GroupCreate, request: Request, db: Db, who: Writer) -> dict[str, Any]:
    group_id = await handle(request, db, who, CreateGroup(body.name, who.username))
    return {"id": group_id, "name": body.name}
