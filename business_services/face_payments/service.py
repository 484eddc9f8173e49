"""Face payment at the terminal (刷脸支付; docs/vision.md "Face payment at the terminal"), at the station server.

``pay``: the terminal's photo goes to head office's gallery over the station's ``HeadOfficeLink``
(``POST /api/v1/faces/identify`` with the station and terminal, so head office records ``face.recognized`` or
``face.spoof_detected``); a live match of a member who pays without the cashier (``model.payer``) has the orders
sold to them (``AttachMember``: the receipt and their history show it) and paid from their chosen stored-value
card through the payments context (``payments.service.take``: opened, charged with no transaction open,
settled). Exactly once: the route runs this under the request's Idempotency-Key, and the payments context never
reserves an order twice nor over-pays it. Every attempt is in the audit chain (``face.pay``: the member, the
similarity and the outcome; never face data); nothing here logs personal data.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import psycopg

from business_services.audit.model import Actor, AuditEntry
from business_services.face_payments import model
from business_services.messagebus import MessageBus
from business_services.online_payments.station_client import HeadOfficeDown, HeadOfficeLink
from business_services.orders import views as orders
from business_services.orders.model import AttachMember
from business_services.payments import repository as payments
from business_services.payments import service as paying
from business_services.payments.model import TakePayment, Tender
from business_services.payments.registry import Providers
from business_services.station_members import repository as station_members
from business_services.unit_of_work import UnitOfWork
from telemetry.contracts.events.payments import Method

IDENTIFY = "/api/v1/faces/identify"
IDENTIFY_TIMEOUT_S = 5.0        # the customer waits at the terminal: a slower head office is "unreachable"


@dataclass(frozen=True, slots=True)
class FacePayment:
    station: str
    terminal: str
    order_nos: tuple[str, ...]
    image: bytes


@dataclass
class Outcome:
    refusal: model.Refusal | None = None
    payer: model.Payer | None = None
    similarity: float | None = None
    payments: list[payments.PaymentRow] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def paid(self) -> bool:
        return bool(self.payments) and all(p.state == "succeeded" for p in self.payments)


async def identify(link: HeadOfficeLink, request: FacePayment) -> model.Identified | model.Refusal:
    """Head office's answer for the photo, or why there is none."""
    if link.down:
        return model.HEAD_OFFICE_DOWN
    try:
        status, data = await link.upload(
            IDENTIFY, {"station": request.station, "terminal": request.terminal},
            {"image": ("terminal.jpg", request.image, "image/jpeg")}, timeout_s=IDENTIFY_TIMEOUT_S)
    except HeadOfficeDown:
        return model.HEAD_OFFICE_DOWN
    if status == 422:
        return model.unusable(str(data.get("detail", "")))
    if status in (401, 403):
        return model.NOT_PERMITTED
    if status != 200:
        return model.FACE_UNAVAILABLE
    match = data.get("match") or {}
    return model.Identified(bool(data.get("live")), float(data.get("liveness", 0.0)), match.get("person"),
                            float(match.get("similarity", 0.0)))


async def _owed(conn: psycopg.AsyncConnection, station: str, order_nos: tuple[str, ...]) -> int:
    async with conn.transaction():
        dues = await orders.dues(conn, station, list(order_nos))
    return sum(max(d.amount_fen - d.paid_fen, 0) for d in dues.values())


async def pay(conn: psycopg.AsyncConnection, bus: MessageBus, providers: Providers, link: HeadOfficeLink | None,
              actor: Actor, request: FacePayment) -> Outcome:
    """Look, liveness, pay: the outcome (refused with why, or the payments as they stand). ``conn`` in autocommit;
    the payments context's refusals (no shift, an order another terminal holds) are raised as they are."""
    started = time.perf_counter()
    outcome = Outcome()
    seen = await identify(link, request) if link is not None else model.NOT_SET_UP
    outcome.timings_ms["identify"] = round((time.perf_counter() - started) * 1000, 1)
    if isinstance(seen, model.Refusal):
        outcome.refusal = seen
    else:
        outcome.similarity = seen.similarity if seen.person else None
        outcome.refusal = model.face_refusal(seen)
        if outcome.refusal is None and seen.person is not None:
            found = await station_members.members_where(conn, station_members.BY_MEMBER_NO, seen.person)
            chosen = model.payer(found[0] if found else None)
            if isinstance(chosen, model.Refusal):
                outcome.refusal = chosen
            else:
                outcome.payer = chosen
                await _take(conn, bus, providers, actor, request, chosen, outcome)
    outcome.timings_ms["total"] = round((time.perf_counter() - started) * 1000, 1)
    await _audit(conn, actor, request, outcome)
    return outcome


async def _take(conn: psycopg.AsyncConnection, bus: MessageBus, providers: Providers, actor: Actor,
                request: FacePayment, payer: model.Payer, outcome: Outcome) -> None:
    began = time.perf_counter()
    owed = await _owed(conn, request.station, request.order_nos)
    if owed <= 0:
        outcome.refusal = model.NOTHING_OWED
        return
    async with UnitOfWork(conn, actor) as uow:          # sold to the member: the receipt and history show it
        await bus.handle(AttachMember(request.station, request.order_nos, payer.member_no), uow)
    command = TakePayment(request.station, request.terminal, actor.name, request.order_nos,
                          (Tender(Method.STORED_VALUE, owed, card_no=payer.card_no, member_no=payer.member_no),),
                          datetime.now(UTC))
    outcome.payments = await paying.take(conn, bus, providers, command, actor)
    failed = [p for p in outcome.payments if p.state == "failed"]
    if failed:
        outcome.refusal = model.Refusal(model.PAYMENT_FAILED, failed[0].message or "储值卡收款失败 (refused)")
    outcome.timings_ms["pay"] = round((time.perf_counter() - began) * 1000, 1)


async def _audit(conn: psycopg.AsyncConnection, actor: Actor, request: FacePayment, outcome: Outcome) -> None:
    after = {"terminal": request.terminal, "orders": list(request.order_nos),
             "outcome": "paid" if outcome.paid else outcome.refusal.code if outcome.refusal else "pending",
             "member_no": outcome.payer.member_no if outcome.payer else None, "similarity": outcome.similarity,
             "payments": [p.payment_no for p in outcome.payments]}
    async with UnitOfWork(conn, actor) as uow:
        await uow.audit(AuditEntry("face.pay", f"orders:{','.join(request.order_nos)}", request.station, None, after))
