"""The pure rules of fleet settlement (docs/fleets.md "Statements, receivables and the bank"): a statement's
period, number and due date; what a received transfer pays; the ageing of what is owed; when to dun. No I/O."""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation

from business_services.cards.model import CHINA

#: the number printed on a statement and asked for in the transfer's memo (附言): FS<enterprise's six digits>-<cut>
STATEMENT_NO = re.compile(r"FS[0-9]{6}-[0-9]{8}")
#: ageing buckets by days past the due date (not yet due counts in the first)
AGEING = (("0-30", 0, 30), ("31-60", 31, 60), ("61-90", 61, 90), (">90", 91, None))
#: dunning levels: the days overdue at which each notice goes out
DUNNING_DAYS = (1, 15, 30)


class SettlementError(ValueError):
    """A request the settlement rules refuse; the message (Chinese first) says what to do."""


def last_cut(statement_day: int, now: datetime) -> date:
    """The latest cut-off on or before ``now``: ``statement_day`` of this month (China time), else of last month."""
    today = now.astimezone(CHINA).date()
    if today.day >= statement_day:
        return today.replace(day=statement_day)
    previous = today.replace(day=1) - timedelta(days=1)
    return previous.replace(day=statement_day)


def previous_cut(cut: date) -> date:
    """The cut a month before ``cut`` (statement_day is at most 28, so every month has it)."""
    return (cut.replace(day=1) - timedelta(days=1)).replace(day=cut.day)


def cut_instant(cut: date) -> datetime:
    """The moment a period ends: midnight at the start of the cut day, China time (sales before it are billed)."""
    return datetime.combine(cut, time(), CHINA)


def statement_no(enterprise: str, cut: date) -> str:
    return f"FS{enterprise[1:]}-{cut:%Y%m%d}"


def due_on(cut: date, credit_days: int) -> date:
    return cut + timedelta(days=credit_days)


def memo_statements(memo: str) -> list[str]:
    """The statement numbers a transfer's memo names, in order, once each (people write "货款 FS…-… 谢谢")."""
    return list(dict.fromkeys(STATEMENT_NO.findall(memo.upper())))


@dataclass(frozen=True, slots=True)
class OpenStatement:
    statement_no: str
    enterprise: str
    outstanding_fen: int


@dataclass(frozen=True, slots=True)
class Match:
    statement_no: str
    enterprise: str
    amount_fen: int
    how: str          # memo, payer


def match(payer_enterprise: str | None, amount_fen: int, named: list[OpenStatement],
          open_of_payer: list[OpenStatement]) -> list[Match]:
    """What a transfer of ``amount_fen`` pays, in this order: the statements its memo names (``named``: those of
    them still open, in the memo's order, ``memo_statements``), each up to what it still owes; else, from an
    enterprise's known account (``payer_enterprise``), the one open statement owing exactly ``amount_fen``; else
    nothing (the manual-match queue). What is left of the transfer stays unmatched."""
    if named:
        matches, left = [], amount_fen
        for s in named:
            pay = min(left, s.outstanding_fen)
            if pay > 0:
                matches.append(Match(s.statement_no, s.enterprise, pay, "memo"))
                left -= pay
        return matches
    if payer_enterprise is not None:
        exact = [s for s in open_of_payer if s.outstanding_fen == amount_fen]
        if len(exact) == 1:
            return [Match(exact[0].statement_no, exact[0].enterprise, amount_fen, "payer")]
    return []


def ageing_bucket(due: date, today: date) -> str:
    overdue = (today - due).days
    for name, _low, high in AGEING:
        if high is None or overdue <= high:
            return name
    raise AssertionError(overdue)   # pragma: no cover (the last bucket has no end)


def dunning_level(due: date, today: date, sent: int) -> int | None:
    """The next dunning level due for a statement overdue since ``due`` of which ``sent`` levels went out."""
    overdue = (today - due).days
    reached = sum(1 for d in DUNNING_DAYS if overdue >= d)
    return reached if reached > sent else None


def dunning_text(name: str, statement: str, outstanding_fen: int, due: date, overdue_days: int) -> str:
    return (f"【Forecourt】{name}：对账单 {statement} 应于 {due:%Y-%m-%d} 付款，已逾期 {overdue_days} 天，"
            f"尚欠 {yuan(outstanding_fen)} 元。请转账并在附言中注明对账单号。")


def yuan(fen: int) -> str:
    return f"{Decimal(fen) / 100:.2f}"


def fen_of(amount: str) -> int:
    """A bank's amount in yuan ("1234.56") in fen; SettlementError for anything else."""
    try:
        value = Decimal(amount)
    except InvalidOperation as error:
        raise SettlementError(f"金额格式错误：{amount!r} (not an amount)") from error
    fen = value * 100
    if not value.is_finite() or fen != fen.to_integral_value() or fen <= 0:
        raise SettlementError(f"金额须为正数且最多两位小数：{amount!r} (not a positive amount in yuan)")
    return int(fen)


# ---- the bank link's signature (simulators/bank and bank.py share this rule) ---------------------------------

def bank_signature(secret: str, timestamp: str, nonce: str, body: bytes) -> str:
    """HMAC-SHA256 (hex) of ``"<timestamp>\\n<nonce>\\n<body>"`` with the shared secret."""
    message = timestamp.encode() + b"\n" + nonce.encode() + b"\n" + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_valid(secret: str, timestamp: str, nonce: str, body: bytes, signature: str, now: float,
                    window_s: int = 300) -> bool:
    """A signature that matches, on a message stamped within ``window_s`` of ``now`` (a replayed old one fails)."""
    if not timestamp.isdigit() or abs(now - int(timestamp)) > window_s:
        return False
    return hmac.compare_digest(bank_signature(secret, timestamp, nonce, body), signature)
