"""The customer H5's drive-through pages (docs/h5.md): 待确认, one-tap confirmation, 加油记录, 无感支付设置.

Customers only (``customer()``; a link session reaches only the confirmation its link named):

- ``GET /api/v1/h5/me/confirmations``: the member's orders awaiting their answer;
- ``GET /api/v1/h5/confirmations/{recognition_id}``: one (station, fuelling position, grade, litres, amount, the
  plate and card masked); ``POST …/confirm`` (确认支付) and ``POST …/decline`` (不是我的车): the answer, once
  (the same again returns it; the other answer 409; past the window 410), audited ``drive_through.confirm`` /
  ``drive_through.decline``. It moves no money itself: the station pays the confirmed order with its own key
  (the order's payment, once), so the answer needs no Idempotency-Key: it is keyed by the recognition;
- ``GET /api/v1/h5/me/orders``: the member's paid orders, from head office's copies of the stations' orders;
- ``GET/PUT /api/v1/h5/me/drive-through``: the member's own 无感支付 choice (method, card, 每次确认), decided by
  the same rule as the back office's (``routes/drive_through.py::choose``), audited.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated

import psycopg
from fastapi import APIRouter, Depends, HTTPException, Path
from pydantic import BaseModel

from business_services.audit.model import AuditEntry
from business_services.cards import views as cards
from business_services.drive_through import head_office as answering
from business_services.drive_through import head_office_repository as confirmations
from business_services.drive_through import repository as settings
from business_services.drive_through.push import grade_name
from business_services.station_members.model import mask_card, mask_plate
from business_services.station_orders import views as orders
from business_services.stations.views import station_detail
from business_services.unit_of_work import UnitOfWork
from control_api.customer_security import ONLY_LINK, Customer, customer
from control_api.deps import Db
from control_api.routes import drive_through
from control_api.security import Principal

router = APIRouter(prefix="/api/v1/h5", tags=["h5"])
Member = Annotated[Customer, Depends(customer())]
MemberOrLink = Annotated[Customer, Depends(customer(link=True))]
RecognitionPath = Annotated[str, Path(pattern=r"^[0-9a-f-]{36}$", description="识别号 (the recognition's id)")]


class ConfirmationOut(BaseModel):
    recognition_id: str
    station: str
    station_name: str
    fuelling_point: int
    grade: int
    grade_name: str
    volume_l: Decimal
    amount_fen: int
    plate_masked: str
    card_masked: str | None
    method: str
    fuelled_at: datetime
    expires_at: datetime
    state: str                     # awaiting, confirmed, declined (expired: awaiting past expires_at)


class Confirmations(BaseModel):
    items: list[ConfirmationOut]


class OrderOut(BaseModel):
    station: str
    station_name: str
    order_no: str
    fuelling_point: int | None
    grade_name: str | None
    volume_l: Decimal | None
    amount_fen: int
    paid_fen: int
    plate_masked: str | None
    fuelled_at: datetime | None


class Orders(BaseModel):
    items: list[OrderOut]


class CardOut(BaseModel):
    card_no: str                   # the member's own card
    card_masked: str
    type_name: str
    balance_fen: int
    status: str


class ChoiceOut(BaseModel):
    method: str
    card_masked: str | None
    card_no: str | None
    confirm: bool
    cards: list[CardOut]


async def _station_name(conn: psycopg.AsyncConnection, code: str, names: dict[str, str]) -> str:
    if code not in names:
        names[code] = (await station_detail(conn, code) or {}).get("name") or code
    return names[code]


async def _out(conn: psycopg.AsyncConnection, c: confirmations.Confirmation, names: dict[str, str]) -> ConfirmationOut:
    return ConfirmationOut(
        recognition_id=c.recognition_id, station=c.station, station_name=await _station_name(conn, c.station, names),
        fuelling_point=c.fuelling_point, grade=c.grade, grade_name=grade_name(c.grade), volume_l=c.volume_l,
        amount_fen=c.amount_fen, plate_masked=mask_plate(c.plate), card_masked=c.card_no and mask_card(c.card_no),
        method=c.method, fuelled_at=c.fuelled_at, expires_at=c.expires_at, state=c.state)


def _may_see(who: Customer, recognition_id: str) -> None:
    if who.only is not None and who.only != recognition_id:
        raise HTTPException(403, ONLY_LINK)


@router.get("/me/confirmations", response_model=Confirmations)
async def pending(who: Member, db: Db) -> Confirmations:
    names: dict[str, str] = {}
    async with db.connection() as conn:
        found = await confirmations.of_member(conn, who.member_no, datetime.now(UTC))
        return Confirmations(items=[await _out(conn, c, names) for c in found])


@router.get("/confirmations/{recognition_id}", response_model=ConfirmationOut)
async def one(recognition_id: RecognitionPath, who: MemberOrLink, db: Db) -> ConfirmationOut:
    _may_see(who, recognition_id)
    async with db.connection() as conn:
        found = await confirmations.confirmation(conn, recognition_id)
        if found is None or found.member_no != who.member_no:
            raise HTTPException(404, answering.NOT_YOURS)
        return await _out(conn, found, {})


async def _answer(recognition_id: str, who: Customer, db: Db, confirmed: bool) -> ConfirmationOut:
    _may_see(who, recognition_id)
    async with db.connection() as conn:
        try:
            async with UnitOfWork(conn, who.actor) as uow:
                before = await confirmations.confirmation(uow.conn, recognition_id)
                done = await answering.decide(uow.conn, who.member_no, recognition_id, confirmed, datetime.now(UTC))
                if before is not None and before.state != done.state:
                    await uow.audit(AuditEntry(
                        "drive_through.confirm" if confirmed else "drive_through.decline",
                        f"drive-through:{recognition_id}", done.station, {"state": before.state},
                        {"state": done.state, "order_no": done.order_no, "amount_fen": done.amount_fen}))
        except answering.AnswerRefused as refused:
            raise HTTPException(refused.status, refused.message) from None
        return await _out(conn, done, {})


@router.post("/confirmations/{recognition_id}/confirm", response_model=ConfirmationOut)
async def confirm(recognition_id: RecognitionPath, who: MemberOrLink, db: Db) -> ConfirmationOut:
    """确认支付: the station pays the order by the member's method at its next round."""
    return await _answer(recognition_id, who, db, True)


@router.post("/confirmations/{recognition_id}/decline", response_model=ConfirmationOut)
async def decline(recognition_id: RecognitionPath, who: MemberOrLink, db: Db) -> ConfirmationOut:
    """不是我的车: nothing is paid; the cashier takes the order."""
    return await _answer(recognition_id, who, db, False)


@router.get("/me/orders", response_model=Orders)
async def paid_orders(who: Member, db: Db) -> Orders:
    names: dict[str, str] = {}
    async with db.connection() as conn:
        found = [o for o in await orders.of_member(conn, who.member_no, None, limit=50) if o["status"] == "paid"]
        return Orders(items=[OrderOut(
            station=o["station"], station_name=await _station_name(conn, o["station"], names),
            order_no=o["order_no"], fuelling_point=o["fuelling_point"],
            grade_name=None if o["grade"] is None else grade_name(o["grade"]), volume_l=o["volume_l"],
            amount_fen=o["amount_fen"], paid_fen=o["paid_fen"], plate_masked=o["plate"] and mask_plate(o["plate"]),
            fuelled_at=o["fuelled_at"]) for o in found])


async def _choice(conn: psycopg.AsyncConnection, member_no: str) -> ChoiceOut:
    method, card_no = await settings.setting(conn, member_no)
    own = [c for c in await cards.cards_of(conn, member_no) if c["kind"] == "stored_value"]
    return ChoiceOut(method=method, card_no=card_no, card_masked=card_no and mask_card(card_no),
                     confirm=await settings.confirms(conn, member_no),
                     cards=[CardOut(card_no=c["card_no"], card_masked=mask_card(c["card_no"]),
                                    type_name=c["type_name"], balance_fen=c["balance_fen"], status=c["status"])
                            for c in own])


@router.get("/me/drive-through", response_model=ChoiceOut)
async def chosen(who: Member, db: Db) -> ChoiceOut:
    async with db.connection() as conn:
        return await _choice(conn, who.member_no)


@router.put("/me/drive-through", response_model=ChoiceOut)
async def choose(body: drive_through.SettingBody, who: Member, db: Db) -> ChoiceOut:
    """The member's own choice, by the back office's rule (its refusals included), audited as theirs."""
    member = Principal(who.actor.name, None, frozenset({"customer"}), frozenset(), frozenset(), who.source)
    await drive_through.choose(who.member_no, body, member, db)
    async with db.connection() as conn:
        return await _choice(conn, who.member_no)
