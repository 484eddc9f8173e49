"""Members at the station server, for the POS (docs/pos.md "会员", docs/offline-members.md).

- ``GET …/members/lookup?phone=|card_no=|qr=|plate=``: through head office (``GET /api/v1/members/lookup``) while
  it answers, else from the station's member list with ``offline: true`` (balances as listed, points unknown);
  a blacklisted plate is said either way. Phones and plates are masked unless the caller holds ``pii:read``;
  a card's full number travels (the POS pays with it) beside its masked form, which is what the screen shows.
- ``POST …/members``: register a member at head office (``POST /api/v1/members``, source ``pos``); a phone already
  registered answers that member (``created: false``), so the cashier goes on with it.
- ``POST …/members/{member_no}/vehicles``: bind a plate at head office.
- ``POST …/orders/member``: sell the selected orders to a member (``order.changed`` with ``member_no``).
- ``GET …/orders/{order_no}/member-receipt``: the member's lines of the receipt (card balance after payment,
  points earned as head office quotes them or "积分以总部入账为准", points balance).
- ``GET …/member-list``: how far the station holds the list, and whether head office answers now.

Every route needs a login, its permission and the station in the caller's scope; POSTs take an Idempotency-Key.
Head office answers 409 (these are the station server's).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from business_services.audit.model import AuditEntry
from business_services.online_payments.station_client import HeadOfficeDown, HeadOfficeLink
from business_services.orders import views as orders
from business_services.orders.model import AttachMember, OrderNotFound, OrderRuleError
from business_services.payments.registry import Providers, head_office_link
from business_services.station_members import repository, views
from business_services.station_members.handlers import HoldMemberList
from business_services.station_members.model import (
    LookupBy,
    MemberRuleError,
    MemberSummary,
    from_head_office,
    lookup_key,
    mask_card,
    mask_plate,
)
from business_services.unit_of_work import UnitOfWork
from control_api.deps import Db, Station
from control_api.idempotency import IdempotencyKey, once
from control_api.security import Principal, at_station
from telemetry.contracts.members import mask_phone

router = APIRouter(prefix="/api/v1/stations/{station}", tags=["station-members"])
log = logging.getLogger(__name__)

Registrar = Annotated[Principal, Depends(at_station("member:register"))]
OrderWriter = Annotated[Principal, Depends(at_station("order:write"))]
Reader = Annotated[Principal, Depends(at_station("payment:read"))]
MemberNo = Annotated[str, Path(pattern=r"^M[0-9]{8,12}$", description="会员号 member number")]
OrderNo = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{5,63}$", description="订单号 order number")]
AT_STATION_ONLY = "会员收银只在加油站的站级服务器办理 (members are served at the station server, not at head office)"
DOWN = "总部连接中断，暂不能{what}，请稍后再试 (head office is unreachable; try again later)"
POINTS_LATER = "积分以总部入账为准"
ALREADY = "该手机号已是会员 (already a member)"


def _station_only(request: Request) -> None:
    if HoldMemberList not in request.app.state.bus.commands:
        raise HTTPException(status.HTTP_409_CONFLICT, AT_STATION_ONLY)


def _link(request: Request) -> HeadOfficeLink | None:
    providers: Providers = request.app.state.payment_providers
    return head_office_link(providers)


@contextmanager
def _answered() -> Iterator[None]:
    try:
        yield
    except MemberRuleError as exc:
        raise HTTPException(exc.status, exc.message) from None
    except OrderNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    except OrderRuleError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None


# --- lookup ---------------------------------------------------------------------------------------------

class CardOut(BaseModel):
    card_no: str                 # the full number: the POS pays with it
    card_no_masked: str          # what the screen shows
    kind: str
    status: str
    balance_fen: int
    offline_limit_fen: int


class MemberOut(BaseModel):
    member_no: str
    name: str
    phone: str
    level: str
    level_name: str
    discount_pct: int
    points_balance: int | None
    cards: list[CardOut]
    plates: list[str]
    offline: bool                # from the station's list: head office did not answer (离线)
    blocked_plate: str | None    # the plate looked up is blacklisted: why

    @classmethod
    def of(cls, m: MemberSummary, who: Principal) -> MemberOut:
        pii = who.may("pii:read")
        phone = m.phone if pii or "*" in m.phone or not m.phone else mask_phone(m.phone)
        return cls(member_no=m.member_no, name=m.name, phone=phone, level=m.level, level_name=m.level_name,
                   discount_pct=m.discount_pct, points_balance=m.points_balance,
                   cards=[CardOut(**asdict(c), card_no_masked=c.card_no if pii else mask_card(c.card_no))
                          for c in m.cards],
                   plates=[p if pii else mask_plate(p) for p in m.plates], offline=m.offline,
                   blocked_plate=m.blocked_plate)


def _asked(phone: str | None, card_no: str | None, qr: str | None, plate: str | None) -> tuple[LookupBy, str]:
    given = [(by, v) for by, v in ((LookupBy.PHONE, phone), (LookupBy.CARD_NO, card_no), (LookupBy.QR, qr),
                                   (LookupBy.PLATE, plate)) if v]
    if len(given) != 1:
        raise MemberRuleError("请输入手机号、卡号、会员码或车牌中的一项 (give one of phone, card_no, qr, plate)")
    by, value = given[0]
    return by, lookup_key(by, value)


@router.get("/members/lookup", response_model=MemberOut)
async def lookup(station: Station, who: Registrar, db: Db, request: Request,
                 phone: Annotated[str | None, Query(max_length=20)] = None,
                 card_no: Annotated[str | None, Query(max_length=24)] = None,
                 qr: Annotated[str | None, Query(max_length=64)] = None,
                 plate: Annotated[str | None, Query(max_length=16)] = None) -> MemberOut:
    """The member, through head office while it answers, else from the station's list (``offline``)."""
    _station_only(request)
    with _answered():
        by, key = _asked(phone, card_no, qr, plate)
    link, found = _link(request), None
    async with db.connection() as conn:
        blocked = await repository.blocked(conn, key) if by is LookupBy.PLATE else None
        if link is not None and not link.down:
            try:
                code, data = await link.call("GET", "/api/v1/members/lookup?" + urlencode({by.value: key}))
            except HeadOfficeDown:
                code, data = 0, {}
            if code == 200:
                found = from_head_office(data, blocked)
            elif code == 422 or (code == 404 and by is not LookupBy.CARD_NO):
                raise HTTPException(code, str(data.get("detail") or "没有找到会员 (no such member)"))
            # a card head office's lookup does not know yet is looked up on the station's list (the cards feed it)
        if found is None:      # head office away (or none set up): the station's list
            found = await views.lookup(conn, by, key, request.app.state.group)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "没有找到会员（离线名单） (not on the station's list)")
    return MemberOut.of(found, who)


# --- register, vehicles -------------------------------------------------------------------------------

class RegisterBody(BaseModel):
    phone: Annotated[str, Field(pattern=r"^1[3-9][0-9]{9}$", description="手机号")]
    name: Annotated[str | None, Field(max_length=32)] = None
    gender: Literal["male", "female"] | None = None
    birthday: Annotated[str | None, Field(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")] = None
    plate: Annotated[str | None, Field(pattern=r"^[\u4e00-\u9fa5][A-Z][A-Z0-9]{5,6}$")] = None


class RegisteredOut(BaseModel):
    member_no: str
    created: bool                # False: the phone was registered already; this is that member
    detail: str


class VehicleBody(BaseModel):
    plate: Annotated[str, Field(pattern=r"^[\u4e00-\u9fa5][A-Z][A-Z0-9]{5,6}$", description="车牌")]


class VehicleOut(BaseModel):
    member_no: str
    plate: str


async def _head_office(request: Request, method: str, path: str, body: dict[str, Any], key: str,
                       what: str) -> tuple[int, dict[str, Any]]:
    link = _link(request)
    if link is None:
        raise HTTPException(status.HTTP_409_CONFLICT, "本站未连接总部 (no head office is set up for this station)")
    try:
        code, data = await link.call(method, path, body, idempotency_key=key)
    except HeadOfficeDown:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, DOWN.format(what=what),
                            headers={"Retry-After": "5"}) from None
    if code >= 500:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, DOWN.format(what=what), headers={"Retry-After": "5"})
    return code, data


@router.post("/members", response_model=RegisteredOut)
async def register(station: Station, body: RegisterBody, who: Registrar, db: Db, key: IdempotencyKey,
                   request: Request) -> JSONResponse:
    """Register the customer at head office (source ``pos``); a phone registered already answers its member."""
    _station_only(request)

    async def work() -> RegisteredOut:
        sent = {k: v for k, v in body.model_dump().items() if v is not None} | {"source": "pos", "station": station}
        code, data = await _head_office(request, "POST", "/api/v1/members", sent, f"pos-member:{station}:{key}",
                                        "登记会员")
        if code in (200, 201) or (code == 409 and data.get("member_no")):
            created = code != 409
            said = "已登记 (registered)" if created else str(data.get("detail") or ALREADY)
            answer = RegisteredOut(member_no=str(data["member_no"]), created=created, detail=said)
            async with db.connection() as conn, UnitOfWork(conn, who.actor) as uow:
                await uow.audit(AuditEntry("member.register.pos", f"member:{answer.member_no}", station, None,
                                           {"phone": mask_phone(body.phone), "created": created}))
            return answer
        raise HTTPException(code if 400 <= code < 500 else 409,
                            str(data.get("detail") or f"总部拒绝登记 (head office answered {code})"))

    return await once(request, db, who, key, work)


@router.post("/members/{member_no}/vehicles", response_model=VehicleOut)
async def bind_plate(station: Station, member_no: MemberNo, body: VehicleBody, who: Registrar, db: Db,
                     key: IdempotencyKey, request: Request) -> JSONResponse:
    """Bind a plate to the member at head office."""
    _station_only(request)

    async def work() -> VehicleOut:
        code, data = await _head_office(request, "POST", f"/api/v1/members/{member_no}/vehicles",
                                        {"plate": body.plate}, f"pos-vehicle:{station}:{key}", "绑定车牌")
        if code not in (200, 201):
            raise HTTPException(code if 400 <= code < 500 else 409,
                                str(data.get("detail") or f"总部拒绝绑定 (head office answered {code})"))
        async with db.connection() as conn, UnitOfWork(conn, who.actor) as uow:
            await uow.audit(AuditEntry("member.vehicle.pos", f"member:{member_no}", station, None,
                                       {"plate": mask_plate(body.plate)}))
        return VehicleOut(member_no=member_no, plate=body.plate)

    return await once(request, db, who, key, work)


# --- orders ---------------------------------------------------------------------------------------------

class AttachBody(BaseModel):
    order_nos: Annotated[list[Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{5,63}$")]],
                         Field(min_length=1, max_length=50)]
    member_no: Annotated[str, Field(pattern=r"^M[0-9]{8,12}$")]
    plate: Annotated[str | None, Field(pattern=r"^[\u4e00-\u9fa5][A-Z][A-Z0-9]{5,6}$")] = None


class AttachedOut(BaseModel):
    member_no: str
    order_nos: list[str]


@router.post("/orders/member", response_model=AttachedOut)
async def attach(station: Station, body: AttachBody, who: OrderWriter, db: Db, key: IdempotencyKey,
                 request: Request) -> JSONResponse:
    """Sell the orders to the member: each order's ``order.changed`` carries ``member_no`` (points at head office)."""
    _station_only(request)

    async def work() -> AttachedOut:
        with _answered():
            command = AttachMember(station, tuple(body.order_nos), body.member_no, body.plate)
            async with db.connection() as conn, UnitOfWork(conn, who.actor) as uow:
                rows = await request.app.state.bus.handle(command, uow)
        return AttachedOut(member_no=body.member_no, order_nos=[r["order_no"] for r in rows])

    return await once(request, db, who, key, work)


class MemberReceiptOut(BaseModel):
    order_no: str
    member_no: str | None
    card_no_masked: str | None
    balance_fen: int | None          # the card's balance after the payment (offline: as the list had it, 约)
    offline: bool
    points_earned: int | None        # head office's quote; None: unknown now (积分以总部入账为准)
    points_balance: int | None
    points_note: str


@router.get("/orders/{order_no}/member-receipt", response_model=MemberReceiptOut)
async def member_receipt(station: Station, order_no: OrderNo, who: Reader, db: Db,
                         request: Request) -> MemberReceiptOut:
    """The member's lines of the order's receipt; asks head office for the points quote while it answers."""
    _station_only(request)
    async with db.connection() as conn:
        order = await orders.detail(conn, station, order_no)
        if order is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"本站没有订单 {order_no} (no order {order_no})")
        member_no = order.get("member_no")
        earned = balance = None
        link = _link(request)
        if member_no and link is not None and not link.down:
            earned, balance = await _points(link, station, member_no, order)
        if member_no:
            await repository.note_receipt(conn, order_no, member_no, earned, balance, datetime.now(UTC))
            await conn.commit()
        note = await views.receipt_note(conn, order_no) or {}
    card_no = note.get("card_no")
    earned = note.get("points_quoted")
    return MemberReceiptOut(
        order_no=order_no, member_no=member_no, card_no_masked=mask_card(card_no) if card_no else None,
        balance_fen=note.get("balance_fen"), offline=bool(note.get("offline")), points_earned=earned,
        points_balance=note.get("points_balance"),
        points_note="" if earned is not None or not member_no else POINTS_LATER)


async def _points(link: HeadOfficeLink, station: str, member_no: str,
                  order: dict[str, Any]) -> tuple[int | None, int | None]:
    """(points the order earns as head office quotes it, the member's points balance); None where unknown."""
    quote: dict[str, Any] = {"member_no": member_no, "station": station, "amount_fen": int(order["amount_fen"])}
    if order.get("grade") is not None:
        quote["grade"] = str(order["grade"])           # head office's grade code: "92", "95", "0" …
    if order.get("volume_l") is not None:
        quote["volume_l"] = str(order["volume_l"])
    earned = balance = None
    try:
        code, data = await link.call("POST", "/api/v1/points/quote", quote,
                                     idempotency_key=f"points-quote:{station}:{order['order_no']}")
        if code == 200 and data.get("points") is not None:
            earned = int(data["points"])
        else:
            log.warning("points quote for order %s refused by head office (%s): %s", order["order_no"], code,
                        str(data.get("detail", ""))[:200])
        if order.get("plate"):         # head office's lookup takes a plate (not a member number)
            code, data = await link.call("GET", "/api/v1/members/lookup?" + urlencode({"plate": order["plate"]}))
            if code == 200 and data.get("member_no") == member_no and data.get("points_balance") is not None:
                balance = int(data["points_balance"])
    except HeadOfficeDown:
        pass
    return earned, balance


class ListHeldOut(BaseModel):
    held_seq: int
    pulled_at: datetime | None
    members: int
    online: bool                 # head office answers now (else lookups come from the list: 离线)


@router.get("/member-list/held", response_model=ListHeldOut)
async def list_held(station: Station, who: Registrar, db: Db, request: Request) -> ListHeldOut:
    """How far the station holds the member list, and whether head office answers now."""
    _station_only(request)
    async with db.connection() as conn:
        held = await views.held(conn, station)
    link = _link(request)
    return ListHeldOut(**held, online=link is not None and not link.down)
