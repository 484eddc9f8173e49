"""Stored-value cards at head office (docs/cards.md): card types, recharge offers, cards (issue one or a batch,
list, detail, statement), recharges, main/sub card allocations, freeze, close, bind, restrictions, and the
changes that need approval (loss report, unlock, replacement, transfer).

Reads need ``card:read``, changes ``card:write``; a card belongs to the station that issued it and every route
respects the caller's stations. A card is named in a path by its number or by its ``id`` (screens that mask
the number use the id). Card numbers and plates are masked for callers without ``pii:read``. Every POST that
moves money takes an ``Idempotency-Key`` (a retry answers as the first time).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field

from business_services.cards import repository, views
from business_services.cards.commands import (
    Allocate,
    Bind,
    CloseCard,
    CreateCardType,
    CreateOffer,
    IssueCards,
    Recharge,
    RequestAction,
    SetFrozen,
    SetOfferActive,
    SetRestrictions,
)
from business_services.cards.model import (
    CHINA,
    MAX_BATCH,
    Action,
    CardError,
    CardKind,
    CardNotFound,
    CardRefused,
    CardType,
    Limits,
    Medium,
    Offer,
    Scope,
    best_offer,
    mask_card_no,
    mask_plate,
)
from business_services.ledger.views import NEWEST_FIRST
from business_services.unit_of_work import UnitOfWork
from control_api.deps import Db, RowId
from control_api.idempotency import IdempotencyKey, once
from control_api.pagination import Cursor, Limit, after, page
from control_api.security import Principal, require
from telemetry.contracts.events.payments import DocumentNo, Method
from telemetry.contracts.identifiers import PLAIN_TEXT as PLAIN
from telemetry.contracts.identifiers import Code
from telemetry.contracts.members import MemberNo, Plate

router = APIRouter(prefix="/api/v1", tags=["cards"])
Reader = Annotated[Principal, Depends(require("card:read"))]
Writer = Annotated[Principal, Depends(require("card:write"))]
CardRef = Annotated[str, Path(pattern=r"^[0-9]{1,19}$", description="卡号，或卡的 id (the card number, or its id)")]
Fen = Annotated[int, Field(gt=0, le=100_000_000)]
TypeCode = Annotated[str, Field(pattern=r"^[A-Za-z0-9-]{2,32}$")]
Grades = Annotated[list[Annotated[int, Field(ge=0, le=999)]], Field(max_length=10)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LimitsBody(_Body):
    daily_limit_fen: Fen | None = None
    litres_per_fill: Annotated[int, Field(gt=0, le=10_000)] | None = None
    fills_per_day: Annotated[int, Field(gt=0, le=100)] | None = None

    def limits(self) -> Limits:
        return Limits(self.daily_limit_fen, self.litres_per_fill, self.fills_per_day)


class CardTypeCreate(LimitsBody):
    code: TypeCode
    name: Annotated[str, Field(min_length=1, max_length=40, pattern=PLAIN)]
    scope: Scope
    station: Code | None = None
    named: bool
    medium: Medium
    kind: CardKind = CardKind.STORED_VALUE
    prefix: Annotated[str, Field(pattern=r"^[1-9][0-9]{3,9}$")]
    length: Annotated[int, Field(ge=16, le=19)] = 16
    offline_limit_fen: Annotated[int, Field(ge=0, le=100_000_000)] = 0
    offline_daily_fen: Annotated[int, Field(ge=0, le=100_000_000)] = 0


class OfferCreate(_Body):
    name: Annotated[str, Field(min_length=1, max_length=60, pattern=PLAIN)]
    min_paid_fen: Fen
    bonus_fen: Fen
    starts_on: date
    ends_on: date
    stations: Annotated[list[Code], Field(max_length=200)] = []
    card_types: Annotated[list[TypeCode], Field(max_length=50)] = []


class OfferActive(_Body):
    active: bool


class IssueBody(LimitsBody):
    card_type: TypeCode
    station: Code | None = None
    count: Annotated[int, Field(ge=1, le=MAX_BATCH)] = 1
    first_serial: Annotated[int, Field(ge=1, le=10**17)] | None = None
    member_no: MemberNo | None = None
    main_card_no: Annotated[str, Field(pattern=r"^[0-9]{16}([0-9]{3})?$")] | None = None
    plates: Annotated[list[Plate], Field(max_length=10)] = []
    grades: Grades = []
    stations: Annotated[list[Code], Field(max_length=200)] = []


class RechargeBody(_Body):
    paid_fen: Fen
    method: Method
    station: Code
    shift_no: DocumentNo | None = None
    recharge_no: DocumentNo


class AllocationBody(_Body):
    sub_card_no: Annotated[str, Field(pattern=r"^[0-9]{16}([0-9]{3})?$")]
    amount_fen: Fen
    back: bool = False


class FreezeBody(_Body):
    freeze: bool
    reason: Annotated[str, Field(max_length=200, pattern=PLAIN)] = ""


class CloseBody(_Body):
    reason: Annotated[str, Field(min_length=1, max_length=200, pattern=PLAIN)]


class RequestBody(_Body):
    action: Action
    reason: Annotated[str, Field(min_length=1, max_length=200, pattern=PLAIN)]
    to_member_no: MemberNo | None = None


class BindBody(_Body):
    member_no: MemberNo | None = None
    linked_card_no: Annotated[str, Field(pattern=r"^[0-9]{16}([0-9]{3})?$")] | None = None


class RestrictionsBody(LimitsBody):
    plates: Annotated[list[Plate], Field(max_length=10)] = []
    grades: Grades = []
    stations: Annotated[list[Code], Field(max_length=200)] = []


class Answer(BaseModel):
    """What a change answers (kept under its Idempotency-Key)."""

    model_config = ConfigDict(extra="allow")


# ---- one way to run a command and one way to refuse -------------------------------------------------------

def _refused(exc: Exception) -> HTTPException:
    if isinstance(exc, CardError):
        return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, exc.message)
    if isinstance(exc, CardRefused):
        return HTTPException(status.HTTP_409_CONFLICT, exc.message)
    return HTTPException(status.HTTP_404_NOT_FOUND, "没有这张卡或记录，请核对 (no such card or record; check it)")


async def handle(request: Request, db: Db, who: Principal, command: Any) -> Any:
    """The command through the bus in one unit of work; a rule's refusal as 422/409/404."""
    try:
        async with db.connection() as conn, UnitOfWork(conn, who.actor) as uow:
            return await request.app.state.bus.handle(command, uow)
    except (CardError, CardRefused, CardNotFound) as exc:
        raise _refused(exc) from None


def command_of(make: Callable[[], Any]) -> Any:
    """A command made from a request; its own checks refuse as 422."""
    try:
        return make()
    except CardError as exc:
        raise _refused(exc) from None


async def card_of(db: Db, ref: str, who: Principal) -> dict[str, Any]:
    """The card a path names (its number or id), within the caller's stations (404, 403)."""
    async with db.connection() as conn:
        card_no: str | None = ref
        if len(ref) < 16:
            card_no = await repository.card_no_of(conn, int(ref))
        row = None if card_no is None or len(card_no) not in (16, 19) else await views.card(conn, card_no)
    if row is None:
        raise _refused(CardNotFound(ref))
    who.check_station(row["station"])
    return row


def shown(row: dict[str, Any], who: Principal) -> dict[str, Any]:
    """A card as this caller may see it: numbers and plates masked without ``pii:read``."""
    if who.may("pii:read"):
        return row
    numbers = ("card_no", "main_card_no", "linked_card_no", "replaced_by")
    out = {k: (mask_card_no(v) if k in numbers and v else v) for k, v in row.items()}
    if "plates" in out:
        out["plates"] = [mask_plate(p) for p in out["plates"]]
    if "sub_cards" in out:
        out["sub_cards"] = [mask_card_no(n) for n in out["sub_cards"]]
    return out


# ---- types and offers --------------------------------------------------------------------------------------

@router.get("/card-types")
async def list_card_types(who: Reader, db: Db, cursor: Cursor = "", limit: Limit = 100) -> dict[str, Any]:
    """Card types in code order: chain types and the caller's stations' own."""
    async with db.connection() as conn:
        rows, total, last = await views.card_types(conn, scope=who.stations, limit=limit,
                                                   after=after(cursor, views.BY_CODE))
    return page(rows, total, views.BY_CODE, last)


@router.post("/card-types", status_code=status.HTTP_201_CREATED)
async def create_card_type(body: CardTypeCreate, request: Request, db: Db, who: Writer) -> dict[str, Any]:
    """A chain type needs a company-wide caller; a single-station type, its station in scope."""
    if body.scope is Scope.CHAIN and who.stations is not None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "连锁卡类型须由总部设置 (a chain type is set by head office)")
    if body.station is not None:
        who.check_station(body.station)
    card_type = command_of(lambda: CardType(body.code, body.name, body.scope, body.station, body.named, body.medium,
                                          body.kind, body.prefix, body.length, body.limits(), body.offline_limit_fen,
                                          body.offline_daily_fen))
    await handle(request, db, who, CreateCardType(card_type, who.username))
    async with db.connection() as conn:
        row = await views.card_type(conn, body.code)
    assert row is not None   # noqa: S101 (just created)
    return row


@router.get("/card-offers")
async def list_offers(who: Reader, db: Db, cursor: Cursor = "", limit: Limit = 50,
                      active_on: date | None = None) -> dict[str, Any]:
    """Recharge offers, newest first (``active_on``: those in force that day)."""
    async with db.connection() as conn:
        rows, total, last = await views.offers(conn, active_on=active_on, limit=limit,
                                               after=after(cursor, views.OFFERS_NEWEST))
    return page(rows, total, views.OFFERS_NEWEST, last)


@router.get("/card-offers/quote")
async def quote_offer(who: Reader, db: Db, paid_fen: Annotated[int, Query(gt=0, le=100_000_000)],
                      station: Annotated[str, Query(pattern=r"^[a-z0-9-]{1,32}$")],
                      card_type: Annotated[str, Query(pattern=r"^[A-Za-z0-9-]{0,32}$")] = "") -> dict[str, Any]:
    """The offer a recharge of ``paid_fen`` would earn today (what the recharge dialog shows)."""
    day = datetime.now(CHINA).date()
    async with db.connection() as conn:
        offer = best_offer(await views.offers_on(conn, day), paid_fen, station, card_type, day)
    return {"offer_id": offer.id if offer else None, "name": offer.name if offer else None,
            "bonus_fen": offer.bonus_fen if offer else 0}


@router.post("/card-offers", status_code=status.HTTP_201_CREATED)
async def create_offer(body: OfferCreate, request: Request, db: Db, who: Writer) -> dict[str, Any]:
    """A recharge offer (充500送50); offers for every station need a company-wide caller."""
    if not body.stations and who.stations is not None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "全部站点的优惠须由总部设置 (an offer for every station is set "
                                                       "by head office)")
    for station in body.stations:
        who.check_station(station)
    offer = command_of(lambda: Offer(0, body.name, body.min_paid_fen, body.bonus_fen, body.starts_on, body.ends_on,
                                   tuple(body.stations), tuple(body.card_types)))
    offer_id = await handle(request, db, who, CreateOffer(offer, who.username))
    return {"id": offer_id} | body.model_dump(mode="json") | {"active": True}


@router.patch("/card-offers/{offer_id}")
async def change_offer(offer_id: RowId, body: OfferActive, request: Request, db: Db, who: Writer) -> dict[str, Any]:
    """Switch an offer on or off."""
    if who.stations is not None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "优惠须由总部启停 (offers are switched by head office)")
    active = await handle(request, db, who, SetOfferActive(offer_id, body.active))
    return {"id": offer_id, "active": active}


# ---- cards -------------------------------------------------------------------------------------------------

@router.get("/cards")
async def list_cards(who: Reader, db: Db, filters: Annotated[views.CardFilter, Query()], cursor: Cursor = "",
                     limit: Limit = 20) -> dict[str, Any]:
    """Cards, newest first, among the caller's stations (the Excel export ``cards`` takes the same filters)."""
    if filters.station:
        who.check_station(filters.station)
    async with db.connection() as conn:
        rows, total, last = await views.cards(conn, filters, who.stations, limit=limit,
                                              after=after(cursor, views.NEWEST_FIRST))
    return page([shown(r, who) for r in rows], total, views.NEWEST_FIRST, last)


@router.post("/cards")
async def issue(body: IssueBody, request: Request, db: Db, who: Writer, key: IdempotencyKey) -> Any:
    """Issue one card (an electronic one for a member), or a batch of consecutive numbers (up to 1000)."""
    async with db.connection() as conn:
        card_type = await views.card_type(conn, body.card_type)
    if card_type is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"没有卡类型 {body.card_type} (no such card type)")
    station = card_type["station"] or body.station
    if station is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "请选择发卡站点 (choose the issuing station)")
    who.check_station(station)
    command = command_of(lambda: IssueCards(body.card_type, body.station, body.count, who.username, datetime.now(UTC),
                                          body.first_serial, body.member_no, body.main_card_no, tuple(body.plates),
                                          tuple(body.grades), tuple(body.stations),
                                          body.limits() if body.model_fields_set & {"daily_limit_fen",
                                                                                     "litres_per_fill",
                                                                                     "fills_per_day"} else None))

    async def work() -> Answer:
        numbers: list[str] = await handle(request, db, who, command)
        masked = not who.may("pii:read")
        shown_nos = [mask_card_no(n) if masked else n for n in numbers]
        return Answer.model_validate({"count": len(numbers), "first": shown_nos[0], "last": shown_nos[-1],
                                      "card_nos": shown_nos[:100]})
    return await once(request, db, who, key, work)


@router.get("/cards/{card}")
async def read_card(card: CardRef, who: Reader, db: Db) -> dict[str, Any]:
    """A card with its balance, sub cards, latest recharges and payments."""
    row = await card_of(db, card, who)
    async with db.connection() as conn:
        recharges = await views.recharges(conn, row["card_no"])
        payments = await views.payments(conn, row["card_no"])
    return shown(row, who) | {"recharges": recharges, "payments": payments}


@router.get("/cards/{card}/statement")
async def card_statement(card: CardRef, who: Reader, db: Db, cursor: Cursor = "",
                         limit: Limit = 50) -> dict[str, Any]:
    """The card's ledger postings, newest first (a debit lowers the balance: ``amount`` > 0)."""
    row = await card_of(db, card, who)
    async with db.connection() as conn:
        rows, total, last = await views.statement(conn, row["card_no"], limit=limit,
                                                  after=after(cursor, NEWEST_FIRST))
    return page(rows, total, NEWEST_FIRST, last)


@router.post("/cards/{card}/recharges")
async def recharge(card: CardRef, body: RechargeBody, request: Request, db: Db, who: Writer,
                   key: IdempotencyKey) -> Any:
    """Recharge at a station (the best offer's bonus added); {balance_fen, bonus_fen}."""
    row = await card_of(db, card, who)
    who.check_station(body.station)
    return await recharge_card(request, db, who, key, row["card_no"], body)


async def recharge_card(request: Request, db: Db, who: Principal, key: str, card_no: str, body: RechargeBody) -> Any:
    """The recharge itself (also the station POS's route: control_api/routes/card_payments.py)."""
    command = command_of(lambda: Recharge(card_no, body.recharge_no, body.paid_fen, body.method, body.station,
                                        body.shift_no, who.username, datetime.now(UTC)))

    async def work() -> Answer:
        done = await handle(request, db, who, command)
        return Answer.model_validate(done | {"card_no": card_no if who.may("pii:read") else mask_card_no(card_no)})
    return await once(request, db, who, key, work)


@router.post("/cards/{card}/allocations")
async def allocate(card: CardRef, body: AllocationBody, request: Request, db: Db, who: Writer,
                   key: IdempotencyKey) -> Any:
    """From a main card to its sub card (``back``: from the sub card back)."""
    row = await card_of(db, card, who)

    async def work() -> Answer:
        done = await handle(request, db, who, Allocate(row["card_no"], body.sub_card_no, body.amount_fen, body.back,
                                                       uuid.uuid4().hex, datetime.now(UTC)))
        return Answer.model_validate(done)
    return await once(request, db, who, key, work)


@router.post("/cards/{card}/freeze")
async def freeze(card: CardRef, body: FreezeBody, request: Request, db: Db, who: Writer) -> dict[str, Any]:
    """Freeze an active card at once, or unfreeze a frozen one (not one frozen for an unpaid overdraft)."""
    row = await card_of(db, card, who)
    await handle(request, db, who, SetFrozen(row["card_no"], body.freeze, body.reason))
    return shown(await card_of(db, card, who), who)


@router.post("/cards/{card}/close")
async def close(card: CardRef, body: CloseBody, request: Request, db: Db, who: Writer,
                key: IdempotencyKey) -> Any:
    """Close a card: a named card's balance is owed back to its holder, an anonymous card's forfeited."""
    row = await card_of(db, card, who)

    async def work() -> Answer:
        closed = await handle(request, db, who, CloseCard(row["card_no"], body.reason, datetime.now(UTC)))
        return Answer.model_validate(shown(closed, who))
    return await once(request, db, who, key, work)


@router.post("/cards/{card}/requests", status_code=status.HTTP_202_ACCEPTED)
async def request_change(card: CardRef, body: RequestBody, request: Request, db: Db, who: Writer) -> dict[str, Any]:
    """Ask for a loss report, unlock, replacement or transfer: done when another person approves it."""
    row = await card_of(db, card, who)
    asked = await handle(request, db, who, command_of(lambda: RequestAction(row["card_no"], body.action, body.reason,
                                                                          body.to_member_no)))
    return {"approval_id": str(asked.id), "kind": asked.kind, "summary": asked.summary, "status": asked.status,
            "expires_at": asked.expires_at}


@router.post("/cards/{card}/binding")
async def bind(card: CardRef, body: BindBody, request: Request, db: Db, who: Writer) -> dict[str, Any]:
    """Bind the card to a member, and/or a physical card to the member's electronic card."""
    row = await card_of(db, card, who)
    await handle(request, db, who, command_of(lambda: Bind(row["card_no"], body.member_no, body.linked_card_no)))
    return shown(await card_of(db, card, who), who)


@router.put("/cards/{card}/restrictions")
async def restrict(card: CardRef, body: RestrictionsBody, request: Request, db: Db, who: Writer) -> dict[str, Any]:
    """What the card may buy: plates, grades, stations (empty: any), daily amount, litres per fill, fills a day."""
    row = await card_of(db, card, who)
    for station in body.stations:
        who.check_station(station)
    await handle(request, db, who, SetRestrictions(row["card_no"], tuple(body.plates), tuple(body.grades),
                                                   tuple(body.stations), command_of(body.limits)))
    return shown(await card_of(db, card, who), who)
