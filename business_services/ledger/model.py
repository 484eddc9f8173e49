"""Pure rules of the ledger (no I/O): accounts, entries that balance, and what each station event posts.

Every balance of the platform is an account here (ARCHITECTURE.md "Money"): a shift's cash drawer, each
payment channel's clearing account, a station's sales; members' stored value, IC-card purses, fleet
accounts and points join as their contexts land. A movement is an ``Entry`` of ``Posting``s that sum to
zero per unit (debit > 0, credit < 0), with the idempotency key of the document it records, so the same
payment reported twice posts once. The database checks the same rules again (migrations/0001_ledger.sql).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from telemetry.contracts.events.payments import Method, PaymentCaptured, PaymentRefunded


class LedgerError(ValueError):
    """An entry that breaks a rule of double entry."""


class Kind(StrEnum):
    ASSET = "asset"
    LIABILITY = "liability"
    REVENUE = "revenue"
    EXPENSE = "expense"
    EQUITY = "equity"

    @property
    def debit_normal(self) -> bool:
        """Whether a debit raises this kind's balance (assets, expenses) or lowers it (the rest)."""
        return self in (Kind.ASSET, Kind.EXPENSE)


class Unit(StrEnum):
    FEN = "fen"
    POINT = "point"


@dataclass(frozen=True, slots=True)
class Account:
    code: str
    name: str
    kind: Kind
    unit: Unit = Unit.FEN
    station: str | None = None
    may_go_negative: bool = True


@dataclass(frozen=True, slots=True)
class Posting:
    account: Account
    amount: int          # debit > 0, credit < 0


@dataclass(frozen=True, slots=True)
class Entry:
    idempotency_key: str
    kind: str
    reference: str
    occurred_at: datetime
    postings: tuple[Posting, ...]
    station: str | None = None
    memo: str = ""

    def __post_init__(self) -> None:
        if len(self.postings) < 2:
            raise LedgerError("an entry has at least two postings")
        if any(p.amount == 0 for p in self.postings):
            raise LedgerError("a posting moves a non-zero amount")
        if len({p.account.code for p in self.postings}) != len(self.postings):
            raise LedgerError("an account appears once in an entry")
        totals: dict[Unit, int] = defaultdict(int)
        for posting in self.postings:
            totals[posting.account.unit] += posting.amount
        unbalanced = {unit: total for unit, total in totals.items() if total}
        if unbalanced:
            raise LedgerError(f"the postings do not sum to zero: {unbalanced}")


# ---- the accounts of station sales ------------------------------------------------------------------------

CHANNEL_NAMES = {Method.WECHAT: "微信支付", Method.ALIPAY: "支付宝", Method.UNIONPAY_QR: "云闪付",
                 Method.ECNY: "数字人民币", Method.BANK_CARD: "银行卡", Method.OTHER: "其他",
                 Method.STORED_VALUE: "储值", Method.IC_CARD: "IC 卡", Method.FLEET_CREDIT: "车队挂账"}


def sales(station: str) -> Account:
    """What a station sold, net of refunds (revenue)."""
    return Account(f"sales:{station}", f"{station} 销售收入", Kind.REVENUE, station=station)


def takings(station: str, shift_no: str, method: Method) -> Account:
    """Where the money of a payment is until it is banked or settled: the shift's cash drawer for cash, the
    channel's clearing account (per station) for the rest. Facts reported by a station are recorded as they
    come, so these may go negative (a refund reported before its payment, on a reordered delivery)."""
    if method is Method.CASH:
        return Account(f"drawer:{station}:{shift_no}", f"{shift_no} 现金钱箱", Kind.ASSET, station=station)
    name = CHANNEL_NAMES.get(method, method.value)
    return Account(f"clearing:{method.value}:{station}", f"{station} {name}待清算", Kind.ASSET, station=station)


def payment_entry(payment: PaymentCaptured) -> Entry:
    """A captured payment: the money is in the drawer or the channel (debit); the station's sales rise."""
    orders = ", ".join(a.order_no for a in payment.allocations)
    return Entry(f"{payment.TYPE}:{payment.station}:{payment.payment_no}", payment.TYPE, payment.payment_no,
                 payment.captured_at,
                 (Posting(takings(payment.station, payment.shift_no, payment.method), payment.amount_fen),
                  Posting(sales(payment.station), -payment.amount_fen)),
                 station=payment.station, memo=f"{payment.method.value} {orders}")


def refund_entry(refund: PaymentRefunded) -> Entry:
    """A refund: the money leaves the drawer or the channel (credit); the station's sales fall."""
    return Entry(f"{refund.TYPE}:{refund.station}:{refund.refund_no}", refund.TYPE, refund.refund_no,
                 refund.refunded_at,
                 (Posting(takings(refund.station, refund.shift_no, refund.method), -refund.amount_fen),
                  Posting(sales(refund.station), refund.amount_fen)),
                 station=refund.station, memo=f"{refund.payment_no}: {refund.reason}")
