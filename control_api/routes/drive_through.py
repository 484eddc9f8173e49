"""Drive-through payment (无感支付; docs/vision.md "Drive-through payment", docs/pos.md).

Head office (``settings``): ``GET/PUT /api/v1/members/{member_no}/drive-through`` {method, card_no?}: the member's
opt-in and how a recognised plate pays: ``off``, ``stored_value`` with one of the member's own active cards, or
``agreement`` (免密支付) once the member's agreement is active (``payment_agreements.py``); ``fleet_credit`` is
refused (a fleet vehicle pays by its card's own setting, not a member's). The change is carried to the stations on
the member list and audited. Permissions ``member:read`` / ``member:write``.

Station server (``router``): ``GET /api/v1/stations/{station}/drive-through``: the members attached to the
fuelling positions today and what became of their orders, an undone one's refund with it (``payment:read``;
plates and cards masked without ``pii:read``); ``POST …/drive-through/{recognition_id}/undo`` {reason}: the
cashier's reversal of a wrong match, refunding a payment already taken (``payment:take``, Idempotency-Key; audited);
its answer carries the refund as it stands (``awaiting_approval`` above the refund limit).

Head office (``confirmations``): ``GET /api/v1/stations/{station}/drive-through/confirmations?ids=`` the members'
answers to the station's awaiting orders (每次确认), asked by the station server's pay loop with its API key
(``payment:online``; docs/h5.md).
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Annotated, Literal

import psycopg
from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from business_services.audit.model import AuditEntry
from business_services.drive_through import head_office_repository, repository, service
from business_services.members import handlers as members
from business_services.members import views as member_views
from business_services.numbers import STATION_ZONE
from business_services.online_payments import views as agreements
from business_services.payments import repository as payments
from business_services.payments.model import PaymentRuleError
from business_services.station_members import views as station_members
from business_services.station_members.model import mask_card, mask_plate
from business_services.unit_of_work import UnitOfWork
from control_api.deps import Db, Station
from control_api.idempotency import IdempotencyKey, once
from control_api.routes.payments import providers_of
from control_api.security import Principal, at_station, require

router = APIRouter(prefix="/api/v1/stations/{station}/drive-through", tags=["drive-through"])
settings = APIRouter(prefix="/api/v1/members/{member_no}/drive-through", tags=["drive-through"])
confirmations = APIRouter(prefix="/api/v1/stations/{station}/drive-through/confirmations", tags=["drive-through"])

Reader = Annotated[Principal, Depends(at_station("payment:read"))]
Taker = Annotated[Principal, Depends(at_station("payment:take"))]
StationServer = Annotated[Principal, Depends(at_station("payment:online"))]   # the station server's API key
MemberReader = Annotated[Principal, Depends(require("member:read"))]
MemberWriter = Annotated[Principal, Depends(require("member:write"))]
MemberNoPath = Annotated[str, Path(pattern=r"^M[0-9]{8,12}$", description="会员号 (member number)")]
RecognitionPath = Annotated[str, Path(pattern=r"^[0-9a-f-]{36}$", description="识别号 (the recognition's id)")]
NOT_A_MEMBERS_CHOICE = "车队挂账的无感支付由车队管理员在车辆卡上开通，会员不能自选 (fleet credit by plate is the " \
    "fleet manager's setting on the vehicle card, not the member's choice)"
NO_AGREEMENT = "会员尚未开通免密支付，请先签约 (the member has no active payment agreement: sign one first)"


class SettingBody(BaseModel):
    method: Literal["off", "stored_value", "fleet_credit", "agreement"] = Field(
        description="off 关闭；stored_value 储值卡；agreement 免密支付（须已签约）；"
                    "fleet_credit 不可选（由车辆卡开通）")
    card_no: Annotated[str | None, Field(pattern=r"^[0-9]{16}([0-9]{3})?$", description="储值卡号")] = None
    confirm: bool = Field(False, description="每次确认：每笔订单先在手机上确认再支付 (docs/h5.md)")


class SettingOut(BaseModel):
    member_no: str
    method: str
    card_no: str | None          # the whole number only with pii:read
    card_masked: str | None
    confirm: bool = False        # 每次确认


class RefundShown(BaseModel):
    """An undone attachment's refund: ``awaiting_approval`` above the refund limit, ``pending`` while its method
    has not answered, ``succeeded`` when the money is back on the card."""

    refund_no: str
    state: str
    amount_fen: int
    message: str


class AttachmentOut(BaseModel):
    recognition_id: str
    fuelling_point: int
    plate: str
    member_no: str | None        # None: a fleet vehicle card pays (card_masked is the fleet card)
    member_name: str | None = None      # masked (张*), from the station's member list
    method: str
    card_masked: str | None
    state: str
    order_no: str | None
    payment_no: str | None
    reason: str
    attached_at: datetime
    expires_at: datetime
    refund: RefundShown | None = None


class AttachmentList(BaseModel):
    items: list[AttachmentOut]
    next_cursor: None = None
    total: int


class UndoBody(BaseModel):
    reason: Annotated[str, Field(min_length=1, max_length=200, description="撤销原因，如 车牌识别错误")]


def _setting(member_no: str, method: str, card_no: str | None, who: Principal, confirm: bool = False) -> SettingOut:
    return SettingOut(member_no=member_no, method=method, card_no=card_no if who.may("pii:read") else None,
                      card_masked=card_no and mask_card(card_no), confirm=confirm)


def _out(a: repository.Attachment, who: Principal, refund: RefundShown | None = None,
         names: dict[str, str] | None = None) -> AttachmentOut:
    return AttachmentOut(
        recognition_id=a.recognition_id, fuelling_point=a.fuelling_point,
        plate=a.plate if who.may("pii:read") else mask_plate(a.plate), member_no=a.member_no,
        member_name=(names or {}).get(a.member_no or ""), method=a.method,
        card_masked=a.card_no and mask_card(a.card_no), state=a.state, order_no=a.order_no, payment_no=a.payment_no,
        reason=a.reason, attached_at=a.attached_at, expires_at=a.expires_at, refund=refund)


@settings.get("", response_model=SettingOut)
async def chosen(member_no: MemberNoPath, who: MemberReader, db: Db) -> SettingOut:
    async with db.connection() as conn:
        if await member_views.profile(conn, member_no) is None:
            raise HTTPException(404, f"没有会员 {member_no} (no such member)")
        return _setting(member_no, *await repository.setting(conn, member_no), who,
                        await repository.confirms(conn, member_no))


@settings.put("", response_model=SettingOut)
async def choose(member_no: MemberNoPath, body: SettingBody, who: MemberWriter, db: Db) -> SettingOut:
    """Opt in or out; the same choice again changes nothing but its time."""
    if body.method == "fleet_credit":
        raise HTTPException(422, NOT_A_MEMBERS_CHOICE)
    if body.method == "stored_value" and body.card_no is None:
        raise HTTPException(422, "请选择会员本人的储值卡 (choose one of the member's stored-value cards)")
    card_no = body.card_no if body.method == "stored_value" else None
    async with db.connection() as conn:
        found = await member_views.profile(conn, member_no)
        if found is None or found["status"] == "erased":
            raise HTTPException(404, f"没有会员 {member_no} (no such member)")
        if card_no is not None and await repository.members_card(conn, member_no, card_no) != "active":
            raise HTTPException(422, "该卡不是会员本人的正常储值卡，请换一张 (not the member's active card)")
        if body.method == "agreement" and not await agreements.has_active_agreement(conn, member_no):
            raise HTTPException(422, NO_AGREEMENT)
        async with UnitOfWork(conn, who.actor) as uow:
            before = await repository.setting(uow.conn, member_no)
            confirmed_before = await repository.confirms(uow.conn, member_no)
            await repository.choose(uow.conn, member_no, body.method, card_no, who.actor.name, datetime.now(UTC))
            await repository.set_confirm(uow.conn, member_no, body.confirm)
            await members.relist(uow.conn, member_no)
            await uow.audit(AuditEntry("member.drive_through", f"member:{member_no}", None,
                                       {"method": before[0], "card": before[1] and mask_card(before[1]),
                                        "confirm": confirmed_before},
                                       {"method": body.method, "card": card_no and mask_card(card_no),
                                        "confirm": body.confirm}))
        return _setting(member_no, body.method, card_no, who, body.confirm)


async def _refund(conn: psycopg.AsyncConnection, a: repository.Attachment) -> RefundShown | None:
    """What became of an undone attachment's payment: its refund as it stands (awaiting approval above the limit)."""
    if a.state != "undone" or a.payment_no is None:
        return None
    found = await payments.refunds_of(conn, a.payment_no)
    return RefundShown(refund_no=found[-1].refund_no, state=found[-1].state, amount_fen=found[-1].amount_fen,
                       message=found[-1].message) if found else None


@router.get("", response_model=AttachmentList)
async def attached(station: Station, who: Reader, db: Db,
                   limit: Annotated[int, Query(ge=1, le=200)] = 50) -> AttachmentList:
    """The day's attachments (the station's day, China time), newest first, whatever became of them."""
    since = datetime.combine(datetime.now(STATION_ZONE).date(), time(0), tzinfo=STATION_ZONE)
    async with db.connection() as conn:
        found = await repository.of_day(conn, station, since, limit)
        names = await station_members.names(conn, sorted({a.member_no for a in found if a.member_no}))
        items = [_out(a, who, await _refund(conn, a), names) for a in found]
    return AttachmentList(items=items, total=len(items))


@router.post("/{recognition_id}/undo", response_model=AttachmentOut)
async def undo(station: Station, recognition_id: RecognitionPath, body: UndoBody, who: Taker, db: Db,
               key: IdempotencyKey, request: Request) -> JSONResponse:
    """A wrong match: the member comes off the fuelling position; a payment already taken is refunded."""
    async def work() -> AttachmentOut:
        async with db.autocommit() as conn:
            try:
                done = await service.undo(conn, request.app.state.bus, providers_of(request), who.actor, station,
                                          recognition_id, body.reason)
            except (service.DriveThroughError, PaymentRuleError) as exc:
                raise HTTPException(exc.status, exc.message) from None
            names = await station_members.names(conn, [done.member_no] if done.member_no else [])
            return _out(done, who, await _refund(conn, done), names)
    return await once(request, db, who, key, work)


class Answer(BaseModel):
    recognition_id: str
    state: str                   # awaiting, confirmed, declined


class Answers(BaseModel):
    items: list[Answer]


@confirmations.get("", response_model=Answers)
async def answers(station: Station, who: StationServer, db: Db,
                  ids: Annotated[str, Query(max_length=3800, pattern=r"^[0-9a-f,-]*$",
                                            description="识别号，逗号分隔 (recognition ids, comma-separated)")] = ""
                  ) -> Answers:
    """Head office: the members' answers to the station's awaiting orders (每次确认; docs/h5.md); an id head office
    has not heard of yet is absent (the station keeps waiting)."""
    wanted = [i for i in ids.split(",") if i][:100]
    async with db.connection() as conn:
        found = await head_office_repository.answers(conn, station, wanted)
    return Answers(items=[Answer(recognition_id=r, state=s) for r, s in found])
