"""Fleet cards (车队卡) at head office (docs/fleets.md "Cards and authorisation"): the list and one card, issue,
limits, PIN, freeze / unfreeze / report lost / close.

Reads need ``fleet:read``, changes ``fleet:write``; a card belongs to its enterprise, and an enterprise is managed
by the users of its maintaining station, so every route respects the caller's stations. A card is named in a path
by its ``id`` (screens mask its number) or its number. Card numbers and plates are masked for callers without
``pii:read``. Issuing takes an ``Idempotency-Key`` (a retry does not issue a second card).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from business_services.cards.model import mask_card_no, mask_plate
from business_services.fleets import card_views as views
from business_services.fleets.cards import (
    AllowDriveThrough,
    CardRules,
    ChangeCardStatus,
    FleetError,
    FleetNotFound,
    IssueFleetCard,
    SetCardRules,
    SetPin,
)
from control_api.deps import Db
from control_api.idempotency import IdempotencyKey, once
from control_api.pagination import Cursor, Limit, after, page
from control_api.routes.fleet_authorisations import handle, refusal
from control_api.security import Principal, require
from telemetry.contracts.fleets import EnterpriseCode, Pin
from telemetry.contracts.identifiers import PLAIN_TEXT as PLAIN
from telemetry.contracts.identifiers import Code
from telemetry.contracts.members import Plate

router = APIRouter(prefix="/api/v1", tags=["fleet-cards"])
Reader = Annotated[Principal, Depends(require("fleet:read"))]
Writer = Annotated[Principal, Depends(require("fleet:write"))]
CardRef = Annotated[str, Path(pattern=r"^[0-9]{1,19}$", description="卡的 id，或卡号 (the card's id, or its number)")]
Fen = Annotated[int, Field(gt=0, le=100_000_000)]
Count = Annotated[int, Field(gt=0, le=1000)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RulesBody(_Body):
    """Every limit of a card; a limit left out (null) does not apply."""

    grades: Annotated[list[Annotated[int, Field(ge=0, le=9999)]], Field(max_length=10)] = []
    stations: Annotated[list[Code], Field(max_length=200)] = []
    hours_from: Annotated[int, Field(ge=0, le=23)] | None = None
    hours_to: Annotated[int, Field(ge=1, le=24)] | None = None
    per_fill_fen: Fen | None = None
    litres_per_fill: Annotated[int, Field(gt=0, le=10_000)] | None = None
    daily_fen: Fen | None = None
    weekly_fen: Fen | None = None
    monthly_fen: Fen | None = None
    fills_per_day: Count | None = None
    fills_per_week: Count | None = None
    fills_per_month: Count | None = None
    offline_limit_fen: Annotated[int, Field(ge=0, le=100_000_000)] = 0

    def rules(self) -> CardRules:
        return CardRules(tuple(self.grades), tuple(self.stations), self.hours_from, self.hours_to, self.per_fill_fen,
                         self.litres_per_fill, self.daily_fen, self.weekly_fen, self.monthly_fen, self.fills_per_day,
                         self.fills_per_week, self.fills_per_month, self.offline_limit_fen)


Driver = Annotated[str, Field(max_length=32, pattern=PLAIN)]


class IssueBody(RulesBody):
    enterprise: EnterpriseCode
    holder: Literal["vehicle", "driver"]
    pays_from: Literal["card", "credit"]
    plate: Plate | None = None
    driver: Driver = ""
    pin: Pin | None = None


class LimitsBody(RulesBody):
    driver: Driver | None = None


class PinBody(_Body):
    pin: Pin | None = Field(description="新密码（4–6 位数字）；null：不再需要密码 (null: no PIN asked)")


class StatusBody(_Body):
    action: Literal["freeze", "unfreeze", "lost", "close"]
    reason: Annotated[str, Field(min_length=1, max_length=200, pattern=PLAIN)]


class Answer(BaseModel):
    """What a change answers (kept under its Idempotency-Key)."""

    model_config = ConfigDict(extra="allow")


def shown(row: dict[str, Any], who: Principal) -> dict[str, Any]:
    """A card as this caller may see it: number and plate masked without ``pii:read``."""
    if who.may("pii:read"):
        return row
    masked = {"card_no": mask_card_no(row["card_no"])}
    return row | masked | ({"plate": mask_plate(row["plate"])} if row.get("plate") else {})


def command_of(make: Any) -> Any:
    """A command made from a request; its own checks (the hours) refuse as 422."""
    try:
        return make()
    except FleetError as exc:
        raise refusal(exc) from None


async def card_of(db: Db, ref: str, who: Principal) -> dict[str, Any]:
    """The card a path names (its id or number) with its detail, within the caller's stations (404, 403)."""
    async with db.connection() as conn:
        card_no = ref if len(ref) in (16, 19) else await views.card_no_of(conn, int(ref))
        row = None if card_no is None else await views.detail(conn, card_no, datetime.now(UTC))
    if row is None:
        raise refusal(FleetNotFound(ref))
    who.check_station(row["maintaining_station"])
    return row


@router.get("/fleet-cards")
async def list_cards(who: Reader, db: Db, filters: Annotated[views.CardFilter, Query()], cursor: Cursor = "",
                     limit: Limit = 20) -> dict[str, Any]:
    """Fleet cards, newest first, of the enterprises the caller's stations maintain."""
    async with db.connection() as conn:
        rows, total, last = await views.cards(conn, filters, who.stations, limit=limit,
                                              after=after(cursor, views.NEWEST_FIRST))
    return page([shown(r, who) for r in rows], total, views.NEWEST_FIRST, last)


@router.get("/fleet-cards/{card}")
async def get_card(card: CardRef, who: Reader, db: Db) -> dict[str, Any]:
    """One card: its limits, money, what it used this day/week/month, its latest authorisations and sales."""
    row = await card_of(db, card, who)
    return shown(row, who) | {"payments": [p | {"plate": None if p["plate"] is None or who.may("pii:read")
                                                 else mask_plate(p["plate"])} for p in row["payments"]]}


@router.post("/fleet-cards")
async def issue(body: IssueBody, request: Request, db: Db, who: Writer, key: IdempotencyKey) -> Any:
    """Issue a vehicle card (its plate joins the enterprise's whitelist) or a driver card: {card_no, id}."""
    async with db.connection() as conn:
        station = await (await conn.execute("SELECT maintaining_station FROM business.fleet_enterprises "
                                            "WHERE code = %s", (body.enterprise,))).fetchone()
    if station is None:
        raise refusal(FleetNotFound(body.enterprise))
    who.check_station(station[0])
    command = command_of(lambda: IssueFleetCard(body.enterprise, body.holder, body.pays_from, body.rules(),
                                               body.plate, body.driver, body.pin))

    async def work() -> Answer:
        return Answer.model_validate(shown(await handle(request, db, who, command), who))
    return await once(request, db, who, key, work)


@router.put("/fleet-cards/{card}/limits")
async def set_limits(card: CardRef, body: LimitsBody, request: Request, db: Db, who: Writer) -> dict[str, Any]:
    """Replace every limit of the card (and its driver's name, when given): {card_no, changed}."""
    row = await card_of(db, card, who)
    command = command_of(lambda: SetCardRules(row["card_no"], body.rules(), body.driver))
    return shown(await handle(request, db, who, command), who)


@router.post("/fleet-cards/{card}/pin")
async def set_pin(card: CardRef, body: PinBody, request: Request, db: Db, who: Writer) -> dict[str, Any]:
    """Set or reset the PIN (a locked PIN is unlocked), or remove it: {card_no, pin}."""
    row = await card_of(db, card, who)
    return shown(await handle(request, db, who, SetPin(row["card_no"], body.pin)), who)


class DriveThroughBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    allowed: bool = Field(description="车牌无感支付：识别到车牌即按本卡挂账付款，免密码（各项限额照常）")


@router.put("/fleet-cards/{card}/drive-through")
async def allow_drive_through(card: CardRef, body: DriveThroughBody, request: Request, db: Db,
                              who: Writer) -> dict[str, Any]:
    """Let the vehicle card pay by its recognised plate without the PIN, or stop it: {card_no, drive_through}."""
    row = await card_of(db, card, who)
    return shown(await handle(request, db, who, AllowDriveThrough(row["card_no"], body.allowed)), who)


@router.post("/fleet-cards/{card}/status")
async def change_status(card: CardRef, body: StatusBody, request: Request, db: Db, who: Writer) -> dict[str, Any]:
    """Freeze, unfreeze, report lost or close the card: {card_no, status}."""
    row = await card_of(db, card, who)
    return shown(await handle(request, db, who, ChangeCardStatus(row["card_no"], body.action, body.reason)), who)
