"""Pure rules of online payments: what a provider answered, what that means for us, what may be refunded.

A provider order is made once per ``payment_no`` (the provider's ``out_trade_no``). Its state moves only
from ``pending``: to ``succeeded`` (the money is taken; final) or ``failed`` (closed, refused: nothing
taken). A provider that does not answer leaves it ``pending`` — the money may have been taken — until a
query, a callback or a cancel settles it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from business_services.payments.providers import ChargeState


class ProviderUnreachable(Exception):
    """The provider did not answer (time-out, connection, an answer whose signature fails): outcome unknown."""


class RefundRefused(Exception):
    """A refund we refuse before asking the provider; the message is for the cashier."""


@dataclass(frozen=True, slots=True)
class Outcome:
    state: ChargeState
    provider_ref: str | None = None      # the provider's transaction id
    qr_code_url: str | None = None
    message: str = ""


@dataclass(frozen=True, slots=True)
class Notice:
    """A callback whose signature was verified: the provider's notification id and what it says."""

    notification_id: str
    payment_no: str
    state: ChargeState
    provider_ref: str | None
    amount_fen: int


class ProviderGateway(Protocol):
    """One provider's merchant API, through its real SDK (``wechat.py``, ``alipay.py``)."""

    name: str

    async def create(self, payment_no: str, amount_fen: int, description: str, auth_code: str | None) -> Outcome:
        """``auth_code``: the payer's credential — the 付款码 scanned (None: a QR order), or for a deduction by
        agreement (免密支付, ``papay.py``) the member's contract id."""

    async def query(self, payment_no: str) -> Outcome: ...

    async def close(self, payment_no: str) -> Outcome: ...

    async def refund(self, refund_no: str, payment_no: str, amount_fen: int, total_fen: int,
                     reason: str) -> Outcome: ...

    def verify(self, headers: dict[str, str], body: bytes) -> Notice | None: ...


UNKNOWN = "支付结果未知，正在向支付机构查询，请勿重复收款 (the provider did not answer; asking — do not charge twice)"


def refundable_fen(captured_fen: int, reserved_fen: int) -> int:
    """What may still be refunded: the capture less refunds made or in progress."""
    return captured_fen - reserved_fen


def check_refund(state: str, captured_fen: int, reserved_fen: int, amount_fen: int) -> None:
    if state != ChargeState.SUCCEEDED:
        raise RefundRefused("该笔支付未成功，不能退款 (only a succeeded payment can be refunded)")
    left = refundable_fen(captured_fen, reserved_fen)
    if not 0 < amount_fen <= left:
        raise RefundRefused(f"退款金额超过可退金额 {left / 100:.2f} 元 (a refund is 1 fen up to the {left} fen left)")
