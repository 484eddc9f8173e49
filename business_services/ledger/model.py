"""Pure rules of the ledger (no I/O): accounts, entries that balance, and what each station event posts.

Every balance of the platform is an account here (ARCHITECTURE.md "Money"): a shift's cash drawer, each
payment channel's clearing account, a station's sales; members' stored value, IC-card purses, fleet
accounts and points join as their contexts land. A movement is an ``Entry`` of ``Posting``s that sum to
zero per unit (debit > 0, credit < 0), with the idempotency key of the document it records, so the same
payment reported twice posts once. The database checks the same rules again (migrations/0001_ledger.sql).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from telemetry.contracts.events.payments import METHOD_NAMES, Method, PaymentCaptured, PaymentRefunded


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
    stripes: int = 1     # > 1: a busy account whose balance is kept in that many rows (docs/ledger.md "Hot accounts")

    def __post_init__(self) -> None:
        if self.stripes < 1 or (self.stripes > 1 and not self.may_go_negative):
            raise LedgerError("only an account that may go negative is striped: a floor is checked on one row")

    def balance_change(self, amount: int) -> int:
        """How a posting of ``amount`` (debit > 0, credit < 0) moves this account's balance, which is kept in
        the account's normal direction: debits less credits for assets and expenses, credits less debits for
        the rest."""
        return amount if self.kind.debit_normal else -amount


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


def sales(station: str) -> Account:
    """What a station sold, net of refunds (revenue)."""
    return Account(f"sales:{station}", f"{station} 销售收入", Kind.REVENUE, station=station)


def takings(station: str, shift_no: str, method: Method) -> Account:
    """Where the money of a payment is until it is banked or settled: the shift's cash drawer for cash, the
    channel's clearing account (per station) for the rest. Facts reported by a station are recorded as they
    come, so these may go negative (a refund reported before its payment, on a reordered delivery)."""
    if method is Method.CASH:
        return Account(f"drawer:{station}:{shift_no}", f"{shift_no} 现金钱箱", Kind.ASSET, station=station)
    return clearing(station, method)


#: rows of a hot account's balance (docs/ledger.md "Hot accounts"): concurrent writers each move their own row,
#: so they do not queue for one row lock held through every commit
HOT = 16
#: channels of customers' money: head office moves their clearing accounts itself, from many requests at once
#: (online card payments, IC and points tenders), besides the station's own payment entries
_CUSTOMER_CHANNELS = frozenset({Method.STORED_VALUE, Method.IC_CARD, Method.POINTS, Method.FLEET_CREDIT})


def clearing(station: str, method: Method) -> Account:
    """A channel's clearing account at a station (every method but cash)."""
    name = METHOD_NAMES.get(method, method.value)
    return Account(f"clearing:{method.value}:{station}", f"{station} {name}待清算", Kind.ASSET, station=station,
                   stripes=HOT if method in _CUSTOMER_CHANNELS else 1)


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


# ---- customers' money: stored value, IC-card purses, points (issue 18) -----------------------------------
# Every card has an account at head office (``card:<card_no>``: the stored value, or for an IC card its
# reserve account, 备用金); an IC card's purse on the chip is mirrored by ``purse:<card_no>`` and moved
# there by a load (圈存). A member's points are ``points:<member_no>`` in points. None of them may go
# negative. Each builder below is the one place its movement is decided; its key makes a replay post nothing.

# company-wide, moved by every station's sales and every member's points: hot
POINTS_ISSUED = Account("points:issued", "积分发放", Kind.EXPENSE, Unit.POINT, stripes=HOT)
POINTS_EXPIRED = Account("points:expired", "积分过期", Kind.REVENUE, Unit.POINT, stripes=HOT)
POINTS_REDEEMED = Account("points:redeemed", "积分兑换", Kind.REVENUE, Unit.POINT, stripes=HOT)
RECHARGE_BONUS = Account("marketing:recharge-bonus", "充值赠送", Kind.EXPENSE, stripes=HOT)
POINTS_REDEMPTION = Account("marketing:points-redemption", "积分抵现", Kind.EXPENSE, stripes=HOT)
CARD_OVERDRAFT = Account("receivable:card-overdraft", "储值卡离线透支应收", Kind.ASSET, stripes=HOT)


def card(card_no: str) -> Account:
    """A card's stored value at head office (an IC card's reserve account): owed to the customer."""
    return Account(f"card:{card_no}", f"卡 {card_no} 余额", Kind.LIABILITY, may_go_negative=False)


def purse(card_no: str) -> Account:
    """The purse on an IC card's chip (the card holds the truth; this mirrors it for reconciliation)."""
    return Account(f"purse:{card_no}", f"IC 卡 {card_no} 卡内余额", Kind.LIABILITY, may_go_negative=False)


def points(member_no: str) -> Account:
    return Account(f"points:{member_no}", f"会员 {member_no} 积分", Kind.LIABILITY, Unit.POINT,
                   may_go_negative=False)


def _move(key: str, kind: str, reference: str, at: datetime, debit: Account, credit: Account, amount: int,
          station: str | None = None, memo: str = "") -> Entry:
    """One amount from ``credit`` to ``debit`` (a two-posting entry)."""
    if amount <= 0:
        raise LedgerError("a movement moves a positive amount")
    return Entry(key, kind, reference, at, (Posting(debit, amount), Posting(credit, -amount)), station, memo)


def recharge_entry(recharge_no: str, card_no: str, paid_fen: int, bonus_fen: int, method: Method,
                   station: str, shift_no: str, at: datetime) -> Entry:
    """A recharge (充值): the money paid is in the drawer or the channel, the bonus (充500送50) is a marketing
    expense, and the card owes the customer both."""
    if paid_fen <= 0 or bonus_fen < 0:
        raise LedgerError("a recharge pays a positive amount and a bonus of zero or more")
    postings = [Posting(takings(station, shift_no, method), paid_fen), Posting(card(card_no), -(paid_fen + bonus_fen))]
    if bonus_fen:
        postings.append(Posting(RECHARGE_BONUS, bonus_fen))
    return Entry(f"card.recharged:{recharge_no}", "card.recharged", recharge_no, at, tuple(postings), station,
                 f"{card_no} 充 {paid_fen} 送 {bonus_fen}")


def card_debit_entry(station: str, payment_no: str, card_no: str, amount_fen: int, at: datetime) -> Entry:
    """A stored-value payment at a station: the card owes less, the station's stored-value clearing account
    (debited by the station's own ``payment_entry``) is settled. The same key whether head office authorised
    it online or learns of it from the station's ``payment.captured`` after an offline sale: posted once."""
    return _move(f"card.debited:{station}:{payment_no}", "card.debited", payment_no, at, card(card_no),
                 clearing(station, Method.STORED_VALUE), amount_fen, station, card_no)


def card_credit_entry(station: str, refund_no: str, card_no: str, amount_fen: int, at: datetime) -> Entry:
    """A refund of a stored-value payment goes back to the card it came from."""
    return _move(f"card.credited:{station}:{refund_no}", "card.credited", refund_no, at,
                 clearing(station, Method.STORED_VALUE), card(card_no), amount_fen, station, card_no)


CARD_REFUNDS_PAYABLE = Account("payable:card-refunds", "退卡待退款", Kind.LIABILITY)
CARD_FORFEITED = Account("income:card-forfeited", "不记名卡注销余额", Kind.REVENUE)


def card_overdraft_debit_entry(station: str, payment_no: str, card_no: str, amount_fen: int, covered_fen: int,
                               at: datetime) -> Entry:
    """An offline stored-value sale the card could not cover (spent elsewhere meanwhile): the card pays what it
    holds (``covered_fen``), the rest is owed (CARD_OVERDRAFT) until the card repays it. The same key as
    ``card_debit_entry``: a payment is settled once, whichever way."""
    if covered_fen >= amount_fen:
        return card_debit_entry(station, payment_no, card_no, amount_fen, at)
    postings = [Posting(CARD_OVERDRAFT, amount_fen - covered_fen),
                Posting(clearing(station, Method.STORED_VALUE), -amount_fen)]
    if covered_fen > 0:
        postings.append(Posting(card(card_no), covered_fen))
    return Entry(f"card.debited:{station}:{payment_no}", "card.debited", payment_no, at, tuple(postings), station,
                 f"{card_no} 透支 {amount_fen - covered_fen}")


def card_overdraft_repaid_entry(repayment_no: str, card_no: str, amount_fen: int, at: datetime) -> Entry:
    """A card's balance repays what it owes for an offline sale it could not cover."""
    return _move(f"card.overdraft_repaid:{repayment_no}", "card.overdraft_repaid", repayment_no, at, card(card_no),
                 CARD_OVERDRAFT, amount_fen, memo=card_no)


def card_closed_entry(card_no: str, amount_fen: int, refund: bool, at: datetime) -> Entry:
    """Closing a card with a balance: a named card's is owed back to its holder (paid out by finance), an
    anonymous card's is forfeited (docs/cards.md "Closing")."""
    return _move(f"card.closed:{card_no}", "card.closed", card_no, at, card(card_no),
                 CARD_REFUNDS_PAYABLE if refund else CARD_FORFEITED, amount_fen, memo=card_no)


def purse_debit_entry(station: str, payment_no: str, card_no: str, amount_fen: int, at: datetime) -> Entry:
    """An IC-card payment (debited on the chip at the station): the purse mirror follows."""
    return _move(f"purse.debited:{station}:{payment_no}", "purse.debited", payment_no, at, purse(card_no),
                 clearing(station, Method.IC_CARD), amount_fen, station, card_no)


def purse_load_entry(load_no: str, card_no: str, amount_fen: int, at: datetime, station: str | None = None) -> Entry:
    """圈存: from the card's reserve account at head office onto the chip."""
    return _move(f"purse.loaded:{load_no}", "purse.loaded", load_no, at, card(card_no), purse(card_no),
                 amount_fen, station, card_no)


def purse_load_reversal_entry(load_no: str, card_no: str, amount_fen: int, at: datetime,
                              station: str | None = None) -> Entry:
    """A load (圈存) whose chip write failed goes back from the purse mirror to the reserve account."""
    return _move(f"purse.load_reversed:{load_no}", "purse.load_reversed", load_no, at, purse(card_no), card(card_no),
                 amount_fen, station, card_no)


def card_transfer_entry(transfer_no: str, from_card: str, to_card: str, amount_fen: int, at: datetime,
                        kind: str = "card.transferred") -> Entry:
    """Value from one card to another: a main card's allocation to a sub card (kind ``card.allocated``), a
    replacement card taking over a lost one's balance, a transfer between customers."""
    return _move(f"{kind}:{transfer_no}", kind, transfer_no, at, card(from_card), card(to_card), amount_fen,
                 memo=f"{from_card} → {to_card}")


def points_award_entry(key: str, member_no: str, amount: int, at: datetime, reference: str,
                       station: str | None = None) -> Entry:
    """Points earned (by a sale, a campaign, a manual grant): key e.g. ``points.awarded:<station>:<order_no>``."""
    return _move(key, "points.awarded", reference, at, POINTS_ISSUED, points(member_no), amount, station)


def points_reversal_entry(key: str, member_no: str, amount: int, at: datetime, reference: str,
                          station: str | None = None) -> Entry:
    """Points taken back (a refund's share of what its order earned)."""
    return _move(key, "points.reversed", reference, at, points(member_no), POINTS_ISSUED, amount, station)


def points_expiry_entry(key: str, member_no: str, amount: int, at: datetime, reference: str) -> Entry:
    return _move(key, "points.expired", reference, at, points(member_no), POINTS_EXPIRED, amount)


def points_redemption_entry(key: str, member_no: str, amount: int, at: datetime, reference: str,
                            station: str | None = None) -> Entry:
    """Points spent on goods, a coupon or the points mall."""
    return _move(key, "points.redeemed", reference, at, points(member_no), POINTS_REDEEMED, amount, station)


def points_transfer_entry(key: str, from_member: str, to_member: str, amount: int, at: datetime,
                          reference: str) -> Entry:
    """Points given to another member (转赠), or a sale's points assigned to another member (积分归属)."""
    return _move(key, "points.transferred", reference, at, points(from_member), points(to_member), amount)


def points_payment_entry(station: str, payment_no: str, member_no: str, points_spent: int, amount_fen: int,
                         at: datetime) -> Entry:
    """Points as a tender (积分抵现) at a station: the member's points are redeemed, and the money the station
    recorded in its points clearing account is paid by marketing. ``points_spent`` 0: the member had none left
    (an offline sale; points part P records the shortfall as a points debt) and only the money side posts."""
    if points_spent < 0 or amount_fen <= 0:
        raise LedgerError("a points payment spends no negative points for a positive amount")
    spent = (Posting(points(member_no), points_spent), Posting(POINTS_REDEEMED, -points_spent)) if points_spent else ()
    paid = (Posting(POINTS_REDEMPTION, amount_fen), Posting(clearing(station, Method.POINTS), -amount_fen))
    return Entry(f"points.paid:{station}:{payment_no}", "points.paid", payment_no, at, (*spent, *paid), station,
                 member_no)


# ---- fleets: enterprises' money and credit (issue 19, docs/fleets.md) --------------------------------------
# An enterprise (企业车队) holds prepaid money (``fleet:<code>:prepaid``) and gift money (``fleet:<code>:gift``),
# neither of which may go negative, and owes what its cards bought on credit (挂账): ``receivable:fleet:<code>``,
# an asset whose ceiling is the enterprise's credit line (checked by the fleets context under the enterprise's
# row lock, not by the ledger). A fleet card's own balance is its ``card:<card_no>`` account, filled by
# allocation (划拨) from the enterprise. Every fleet sale at a station is tendered as ``fleet_credit``; head office
# settles that station's ``clearing:fleet_credit`` from the card's balance or from the enterprise's credit.

FLEET_ADJUSTMENTS = Account("adjustments:fleet", "车队调账", Kind.EXPENSE)
BANK_RECEIPTS = Account("bank:receipts", "银行到账", Kind.ASSET)
BANK_UNMATCHED = Account("bank:unmatched", "银行到账未核销", Kind.LIABILITY)


def fleet_prepaid(code: str) -> Account:
    return Account(f"fleet:{code}:prepaid", f"企业 {code} 预付余额", Kind.LIABILITY, may_go_negative=False)


def fleet_gift(code: str) -> Account:
    return Account(f"fleet:{code}:gift", f"企业 {code} 赠送余额", Kind.LIABILITY, may_go_negative=False)


def fleet_receivable(code: str) -> Account:
    """What the enterprise owes for sales on credit (挂账), until its transfer settles it."""
    return Account(f"receivable:fleet:{code}", f"企业 {code} 挂账应收", Kind.ASSET)


def fleet_recharge_entry(recharge_no: str, code: str, paid_fen: int, gift_fen: int, method: Method,
                         station: str, shift_no: str, at: datetime) -> Entry:
    """An enterprise's recharge (企业充值): the money is in the drawer or the channel; the enterprise's prepaid
    balance owes it, its gift balance the gift (a marketing expense)."""
    if paid_fen <= 0 or gift_fen < 0:
        raise LedgerError("a recharge pays a positive amount and a gift of zero or more")
    postings = [Posting(takings(station, shift_no, method), paid_fen), Posting(fleet_prepaid(code), -paid_fen)]
    if gift_fen:
        postings += [Posting(RECHARGE_BONUS, gift_fen), Posting(fleet_gift(code), -gift_fen)]
    return Entry(f"fleet.recharged:{recharge_no}", "fleet.recharged", recharge_no, at, tuple(postings), station,
                 f"{code} 充 {paid_fen} 赠 {gift_fen}")


def fleet_allocation_entry(allocation_no: str, code: str, card_no: str, amount_fen: int, at: datetime,
                           gift: bool = False) -> Entry:
    """Allocation (划拨) from the enterprise's prepaid (or gift) balance to one of its cards; a negative
    ``amount_fen`` takes money back from the card (回收)."""
    source = fleet_gift(code) if gift else fleet_prepaid(code)
    debit, credit = (source, card(card_no)) if amount_fen > 0 else (card(card_no), source)
    return _move(f"fleet.allocated:{allocation_no}", "fleet.allocated", allocation_no, at, debit, credit,
                 abs(amount_fen), memo=f"{code} ↔ {card_no}")


def fleet_adjustment_entry(adjustment_no: str, code: str, amount_fen: int, at: datetime, reason: str,
                           gift: bool = False) -> Entry:
    """An approved adjustment (调账) of an enterprise's prepaid (or gift) balance: positive adds to it."""
    target = fleet_gift(code) if gift else fleet_prepaid(code)
    debit, credit = (FLEET_ADJUSTMENTS, target) if amount_fen > 0 else (target, FLEET_ADJUSTMENTS)
    return _move(f"fleet.adjusted:{adjustment_no}", "fleet.adjusted", adjustment_no, at, debit, credit,
                 abs(amount_fen), memo=f"{code}: {reason}")


def fleet_payment_entry(station: str, payment_no: str, code: str, card_no: str | None, amount_fen: int,
                        at: datetime) -> Entry:
    """A fleet sale at a station settled at head office: from the card's own balance (``card_no``) or, on credit
    (``card_no`` None), as the enterprise's debt; either way the station's ``clearing:fleet_credit`` (debited by
    its ``payment_entry``) is settled. One key per payment, online or reported after an offline sale."""
    debit = card(card_no) if card_no else fleet_receivable(code)
    return _move(f"fleet.paid:{station}:{payment_no}", "fleet.paid", payment_no, at, debit,
                 clearing(station, Method.FLEET_CREDIT), amount_fen, station, f"{code} {card_no or '挂账'}")


def fleet_refund_entry(station: str, refund_no: str, code: str, card_no: str | None, amount_fen: int,
                       at: datetime) -> Entry:
    """A refund of a fleet sale goes back where the payment came from."""
    credit = card(card_no) if card_no else fleet_receivable(code)
    return _move(f"fleet.refunded:{station}:{refund_no}", "fleet.refunded", refund_no, at,
                 clearing(station, Method.FLEET_CREDIT), credit, amount_fen, station, f"{code} {card_no or '挂账'}")


def fleet_transfer_received_entry(transfer_no: str, amount_fen: int, at: datetime) -> Entry:
    """The bank reports an incoming transfer (银企直连): the money is in, not yet matched to an enterprise."""
    return _move(f"bank.received:{transfer_no}", "bank.received", transfer_no, at, BANK_RECEIPTS, BANK_UNMATCHED,
                 amount_fen)


def fleet_settlement_entry(settlement_no: str, code: str, amount_fen: int, at: datetime) -> Entry:
    """A received transfer matched to an enterprise's debt (核销): the unmatched money pays its receivable."""
    return _move(f"fleet.settled:{settlement_no}", "fleet.settled", settlement_no, at, BANK_UNMATCHED,
                 fleet_receivable(code), amount_fen, memo=code)


# ---- whose money an account holds (who may read it) ------------------------------------------------------

#: a customer's account code: a card's stored value, an IC purse, a member's points (the same pattern in Python
#: and in PostgreSQL's ``~``: views.accounts leaves these out of the company's list)
CUSTOMER_CODE = r"^(card|purse):|^points:M[0-9]{8,12}$|^(fleet|receivable:fleet):"
_CARD_NO = re.compile(r"(?<![0-9])[0-9]{16}(?:[0-9]{3})?(?![0-9])")


def customer_permission(code: str) -> str | None:
    """The permission that reads a customer's account besides ``ledger:read``: ``card:read`` for a card's
    stored value and an IC purse, ``member:read`` for a member's points, ``fleet:read`` for an enterprise's
    balances and debt; None for the company's own accounts (a station's, or company-wide like ``points:issued``)."""
    if not re.search(CUSTOMER_CODE, code):
        return None
    if code.startswith(("fleet:", "receivable:fleet:")):
        return "fleet:read"
    return "member:read" if code.startswith("points:") else "card:read"


def mask_card_numbers(text: str) -> str:
    """Every card number in ``text`` as 6225********1234: what a screen shows without ``pii:read``."""
    return _CARD_NO.sub(lambda m: m[0][:4] + "*" * (len(m[0]) - 8) + m[0][-4:], text)
