"""The one interface every way of paying sits behind (ARCHITECTURE.md "External systems").

The payments context (``handlers.py``) never knows which provider it talks to: it builds a
``ChargeRequest`` and acts on the ``ChargeResult``. Offline tenders (cash, the bank's card terminal,
"other") answer at once; online ones (WeChat Pay, Alipay, UnionPay QR, digital RMB) go through head office,
which talks to the provider with its real SDK, and may answer ``PENDING`` (the customer has not paid yet:
a QR code is shown, or the provider is slow) and settle later: ``query`` asks again, ``cancel`` closes the
provider's order when the POS gives up, and answers ``SUCCEEDED`` if the customer paid after all (the
payment then counts; it is never lost). Stored value, IC cards and fleet credit plug in here in their own
issues.

A provider's ``payment_no`` is our number (WeChat's ``out_trade_no``, Alipay's ``out_trade_no``): the
provider refuses a second charge with it, so a retried charge cannot take the money twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from telemetry.contracts.events.payments import Method


class ChargeState(StrEnum):
    SUCCEEDED = "succeeded"      # the money is taken
    PENDING = "pending"          # not yet known: ask again (query) or give up (cancel)
    FAILED = "failed"            # not taken; ``message`` says why, for the cashier


@dataclass(frozen=True, slots=True)
class ChargeRequest:
    payment_no: str
    station: str
    method: Method
    amount_fen: int
    description: str                 # what the customer's app shows, e.g. "演示站 加油 92# 41.38L"
    auth_code: str | None = None     # the customer's payment code scanned by the POS (付款码), if any
    reference: str | None = None     # the bank terminal's voucher number, keyed in by the cashier
    note: str | None = None          # what an "other" tender was (e.g. 滴滴代金券)
    card_no: str | None = None       # stored value: the card to pay from; points: the member's card, if any
    member_no: str | None = None     # points: the member whose points pay
    auth_no: str | None = None       # fleet credit: the authorisation the fuelling was made under


@dataclass(frozen=True, slots=True)
class ChargeResult:
    state: ChargeState
    provider_ref: str | None = None  # the provider's transaction id, or the terminal's reference
    qr_code_url: str | None = None   # for a PENDING charge the customer pays by scanning (Native, precreate)
    message: str = ""
    card_no: str | None = None       # stored value: the card paid from (payment.captured carries it)
    member_no: str | None = None     # the card's or the points' member
    offline: bool = False            # taken while head office was unreachable (head office settles it later)
    points_spent: int | None = None  # points: the points redeemed
    auth_no: str | None = None       # fleet credit: the authorisation captured (payment.captured carries it)


@dataclass(frozen=True, slots=True)
class RefundRequest:
    refund_no: str
    payment_no: str
    method: Method
    amount_fen: int                  # this refund
    captured_fen: int                # the whole capture (WeChat wants both)
    reason: str


@dataclass(frozen=True, slots=True)
class RefundResult:
    state: ChargeState
    provider_ref: str | None = None
    message: str = ""
    card_no: str | None = None       # stored value: the card the refund went back to
    member_no: str | None = None


class PaymentProvider(Protocol):
    """One way of paying. ``safe_offline``: usable while head office is unreachable. ``unavailable()``: None
    when it can take a payment now, else why not, for the cashier (e.g. "总部连接中断，暂不能微信收款").
    A provider whose ``charge`` asks nobody (no network, no waiting: the offline tenders) may also say
    ``answers_at_once = True``; its payments are then taken in one transaction (``service.take_at_once``)."""

    method: Method
    safe_offline: bool

    def unavailable(self) -> str | None: ...

    async def charge(self, request: ChargeRequest) -> ChargeResult: ...

    async def query(self, payment_no: str) -> ChargeResult: ...

    async def cancel(self, payment_no: str) -> ChargeResult: ...

    async def refund(self, request: RefundRequest) -> RefundResult: ...
