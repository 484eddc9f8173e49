"""Stored-value card payments, refunds and recharges asked by a station server (docs/cards.md "Payments").

The station's API key carries ``payment:online``; the payment's station must be in its scope. Each POST takes an
``Idempotency-Key`` (the POS sends ``card-payment:{station}:{payment_no}``): a retry answers as the first time,
and the ledger entry's own key (``card.debited:{station}:{payment_no}``) posts a payment once whatever the key.
A refusal is 409 with the reason the POS shows (余额不足, 卡已挂失, 限制油品, 超出单日限额 …).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from business_services.cards.commands import PayByCard, RefundCardPayment
from control_api.deps import Db, Station
from control_api.idempotency import IdempotencyKey, once
from control_api.routes.cards import Answer, RechargeBody, command_of, handle, recharge_card
from control_api.security import Principal, require
from telemetry.contracts.events.payments import DocumentNo
from telemetry.contracts.identifiers import Code
from telemetry.contracts.members import MemberNo, Plate

router = APIRouter(prefix="/api/v1", tags=["card-payments"])
Payer = Annotated[Principal, Depends(require("payment:online"))]
PaymentNo = Annotated[str, Path(min_length=6, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
CardNumber = Annotated[str, Field(pattern=r"^[0-9]{16}([0-9]{3})?$")]


class CardPaymentBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    station: Code
    payment_no: DocumentNo
    card_no: CardNumber
    amount_fen: Annotated[int, Field(gt=0, le=100_000_000)]
    member_no: MemberNo | None = None
    grade: Annotated[int, Field(ge=0, le=999)] | None = None
    volume_l: Annotated[Decimal, Field(gt=0, le=100_000, max_digits=10, decimal_places=2)] | None = None
    plate: Plate | None = None


class CardRefundBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refund_no: DocumentNo
    amount_fen: Annotated[int, Field(gt=0, le=100_000_000)]


class StationRechargeBody(RechargeBody):
    card_no: CardNumber


@router.post("/card-payments")
async def pay(body: CardPaymentBody, request: Request, db: Db, who: Payer, key: IdempotencyKey) -> Any:
    """Pay from the card: {state: succeeded, card_no, member_no, balance_fen}, or 409 saying why not."""
    who.check_station(body.station)
    command = command_of(lambda: PayByCard(body.station, body.payment_no, body.card_no, body.amount_fen,
                                         datetime.now(UTC), body.member_no, body.grade, body.volume_l, body.plate))

    async def work() -> Answer:
        return Answer.model_validate(await handle(request, db, who, command))
    return await once(request, db, who, key, work)


@router.post("/card-payments/{station}/{payment_no}/refunds")
async def refund(station: Station, payment_no: PaymentNo, body: CardRefundBody, request: Request,
                 db: Db, who: Payer, key: IdempotencyKey) -> Any:
    """Part or all of a card payment back to the card it came from: {state, card_no, balance_fen}."""
    who.check_station(station)
    command = command_of(lambda: RefundCardPayment(station, payment_no, body.refund_no, body.amount_fen,
                                                 datetime.now(UTC)))

    async def work() -> Answer:
        done: dict[str, Any] = await handle(request, db, who, command)
        return Answer.model_validate(done)
    return await once(request, db, who, key, work)


@router.post("/card-recharges")
async def recharge_at_station(body: StationRechargeBody, request: Request, db: Db, who: Payer,
                              key: IdempotencyKey) -> Any:
    """A recharge taken at the station's POS (the same rules and offers as the back office's)."""
    who.check_station(body.station)
    return await recharge_card(request, db, who, key, body.card_no,
                               RechargeBody.model_validate(body.model_dump(exclude={"card_no"})))
