"""Payment events, raised by the station server's payments context and carried up to head office.

``payment.captured``: money taken for one or several orders (a merged payment), by one method; a split
payment (one order, several methods) is several captures. ``allocations`` say how much of the amount
went to which order and always add up to it. ``payment.refunded``: money given back from one capture,
never more than was captured less what was refunded before (the payments context checks it). Each
event's id comes from its number, so the same capture reported twice is one event.
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from telemetry.contracts.events.envelope import EventPayload
from telemetry.contracts.events.fields import Fen, UtcTime
from telemetry.contracts.identifiers import Code
from telemetry.contracts.members import CardNo, MemberNo

PAYMENT_CAPTURED = "payment.captured"
PAYMENT_REFUNDED = "payment.refunded"

_NAMESPACE = uuid.UUID("4d0f7c1e-9a8b-4c3d-8e2f-1a6b5c4d3e21")

#: a station-unique number of an order, payment or refund (the rules are in their contexts' model.py)
DocumentNo = Annotated[str, Field(min_length=6, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]


class Method(StrEnum):
    """How a customer pays. Which are safe without head office is decided in business_services/payments."""

    CASH = "cash"
    BANK_CARD = "bank_card"          # the bank's own card terminal; we record its reference
    WECHAT = "wechat"
    ALIPAY = "alipay"
    UNIONPAY_QR = "unionpay_qr"
    ECNY = "ecny"                    # digital RMB
    OTHER = "other"                  # e.g. a platform voucher (滴滴), with a note
    STORED_VALUE = "stored_value"    # member balance (its own issue)
    IC_CARD = "ic_card"              # the IC card's purse (its own issue)
    FLEET_CREDIT = "fleet_credit"    # fleet account (its own issue)
    POINTS = "points"                # a member's points as a tender (积分抵现)
    AGREEMENT = "agreement"          # 免密支付: a deduction by the member's agreement with WeChat Pay (委托代扣)


#: each method's name on screen, on receipts and in reports (the one catalogue of them)
METHOD_NAMES = {Method.CASH: "现金", Method.BANK_CARD: "银行卡", Method.WECHAT: "微信支付", Method.ALIPAY: "支付宝",
                Method.UNIONPAY_QR: "云闪付", Method.ECNY: "数字人民币", Method.OTHER: "其他",
                Method.STORED_VALUE: "储值卡", Method.IC_CARD: "IC 卡", Method.FLEET_CREDIT: "车队挂账",
                Method.POINTS: "积分抵现", Method.AGREEMENT: "免密支付"}


class Allocation(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    order_no: DocumentNo
    amount_fen: Annotated[Fen, Field(gt=0)]


def _allocated(amount_fen: int, allocations: tuple[Allocation, ...]) -> None:
    if not allocations:
        raise ValueError("a payment goes to at least one order")
    if sum(a.amount_fen for a in allocations) != amount_fen:
        raise ValueError("the allocations must add up to the amount")
    if len({a.order_no for a in allocations}) != len(allocations):
        raise ValueError("an order appears once in the allocations")


class PaymentCaptured(EventPayload):
    TYPE = PAYMENT_CAPTURED

    payment_no: DocumentNo
    station: Code
    shift_no: DocumentNo
    terminal: Annotated[str, Field(min_length=1, max_length=64)]
    cashier: Annotated[str, Field(min_length=1, max_length=64)]
    method: Method
    amount_fen: Annotated[Fen, Field(gt=0)]
    allocations: tuple[Allocation, ...]
    provider_ref: Annotated[str, Field(max_length=128)] | None = None   # the provider's or terminal's reference
    captured_at: UtcTime
    member_no: MemberNo | None = None          # the member the orders were sold to (a member order), if any
    card_no: CardNo | None = None              # STORED_VALUE / IC_CARD: the card paid from
    points_spent: Annotated[int, Field(gt=0)] | None = None     # POINTS: the points redeemed for ``amount_fen``
    auth_no: DocumentNo | None = None          # FLEET_CREDIT: the fleet authorisation the sale was fuelled under
    offline: bool = False                      # taken while head office was unreachable: head office settles it now

    @model_validator(mode="after")
    def _adds_up(self) -> Self:
        _allocated(self.amount_fen, self.allocations)
        return self

    def event_id(self) -> str:
        return str(uuid.uuid5(_NAMESPACE, f"captured/{self.station}/{self.payment_no}"))


class PaymentRefunded(EventPayload):
    TYPE = PAYMENT_REFUNDED

    refund_no: DocumentNo
    payment_no: DocumentNo
    station: Code
    shift_no: DocumentNo                 # the shift in which the money went back
    method: Method
    amount_fen: Annotated[Fen, Field(gt=0)]
    allocations: tuple[Allocation, ...]
    reason: Annotated[str, Field(min_length=1, max_length=200)]
    refunded_by: Annotated[str, Field(min_length=1, max_length=64)]
    refunded_at: UtcTime
    member_no: MemberNo | None = None          # the payment's member: its points are taken back in proportion
    card_no: CardNo | None = None              # STORED_VALUE / IC_CARD: the card the money goes back to

    @model_validator(mode="after")
    def _adds_up(self) -> Self:
        _allocated(self.amount_fen, self.allocations)
        return self

    def event_id(self) -> str:
        return str(uuid.uuid5(_NAMESPACE, f"refunded/{self.station}/{self.refund_no}"))
