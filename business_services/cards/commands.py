"""The commands of the cards context, named as orders; each is handled by one function in ``handlers.py`` or
``payments.py``. Values are checked where they are made (``__post_init__``: a ``CardError`` names the field)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from business_services.cards.model import (
    MAX_BATCH,
    MAX_FEN,
    Action,
    CardError,
    CardType,
    Limits,
    Offer,
    check_card_no,
)
from telemetry.contracts.events.payments import Method


@dataclass(frozen=True, slots=True)
class CreateCardType:
    card_type: CardType
    by: str


@dataclass(frozen=True, slots=True)
class CreateOffer:
    offer: Offer
    by: str


@dataclass(frozen=True, slots=True)
class SetOfferActive:
    offer_id: int
    active: bool


@dataclass(frozen=True, slots=True)
class IssueCards:
    """Issue ``count`` cards of a type (one, or a batch: consecutive serials from ``first_serial``, or from the
    type's next). ``station``: where they are issued (a single-station type's own station)."""

    card_type: str
    station: str | None
    count: int
    by: str
    at: datetime
    first_serial: int | None = None
    member_no: str | None = None
    main_card_no: str | None = None
    plates: tuple[str, ...] = ()
    grades: tuple[int, ...] = ()
    stations: tuple[str, ...] = ()
    limits: Limits | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.count <= MAX_BATCH:
            raise CardError("count", f"一次最多发 {MAX_BATCH} 张卡 (1 to {MAX_BATCH} cards a request)")
        if self.count > 1 and (self.member_no or self.main_card_no):
            raise CardError("count", "批量发卡不绑定会员或主卡，请逐张发 (a batch binds no member or main card)")
        if self.main_card_no:
            check_card_no(self.main_card_no, "main_card_no")


@dataclass(frozen=True, slots=True)
class Recharge:
    card_no: str
    recharge_no: str
    paid_fen: int
    method: Method
    station: str
    shift_no: str | None
    by: str
    at: datetime

    def __post_init__(self) -> None:
        if self.method in (Method.STORED_VALUE, Method.IC_CARD, Method.POINTS, Method.FLEET_CREDIT):
            raise CardError("method", "不能用储值卡、IC 卡、积分或挂账充值 (pay a recharge in money)")
        if self.method is Method.CASH and not self.shift_no:
            raise CardError("shift_no", "现金充值须填写班次号 (a cash recharge names the shift whose drawer has it)")


@dataclass(frozen=True, slots=True)
class Allocate:
    """A main card's allocation to a sub card (``back``: from the sub card back to its main card)."""

    main_card_no: str
    sub_card_no: str
    amount_fen: int
    back: bool
    transfer_no: str
    at: datetime


@dataclass(frozen=True, slots=True)
class SetFrozen:
    card_no: str
    freeze: bool
    reason: str


@dataclass(frozen=True, slots=True)
class CloseCard:
    card_no: str
    reason: str
    at: datetime


@dataclass(frozen=True, slots=True)
class RequestAction:
    """Ask for a loss report, unlock, replacement or transfer: carried out when someone else approves it."""

    card_no: str
    action: Action
    reason: str
    to_member_no: str | None = None


@dataclass(frozen=True, slots=True)
class Bind:
    """Bind a card to a member, and/or a physical card to an electronic one (``linked_card_no``)."""

    card_no: str
    member_no: str | None
    linked_card_no: str | None

    def __post_init__(self) -> None:
        if self.member_no is None and self.linked_card_no is None:
            raise CardError("member_no", "请填写会员号或电子卡号 (name a member or an electronic card)")
        if self.linked_card_no is not None:
            check_card_no(self.linked_card_no, "linked_card_no")


@dataclass(frozen=True, slots=True)
class SetRestrictions:
    card_no: str
    plates: tuple[str, ...]
    grades: tuple[int, ...]
    stations: tuple[str, ...]
    limits: Limits


@dataclass(frozen=True, slots=True)
class PayByCard:
    """A stored-value payment at a station, asked online (the POS waits for the answer)."""

    station: str
    payment_no: str
    card_no: str
    amount_fen: int
    at: datetime
    member_no: str | None = None
    grade: int | None = None
    volume_l: Decimal | None = None
    plate: str | None = None

    def __post_init__(self) -> None:
        if not 0 < self.amount_fen <= MAX_FEN:
            raise CardError("amount_fen", "金额应在 0.01–100 万元之间 (0.01 to 1,000,000 yuan)")


@dataclass(frozen=True, slots=True)
class RefundCardPayment:
    station: str
    payment_no: str
    refund_no: str
    amount_fen: int
    at: datetime

    def __post_init__(self) -> None:
        if not 0 < self.amount_fen <= MAX_FEN:
            raise CardError("amount_fen", "退款金额应大于 0 (the amount must be positive)")
