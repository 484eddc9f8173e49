"""Pure rules of the station's members (no I/O): what a cashier may look a member up by, the offline limits
of a stored-value card, and the member summary the POS shows, the same online and offline.

Head office owns members and cards; the station holds its member list (``telemetry/contracts/members.py``)
for when head office is unreachable (docs/offline-members.md). Offline, a stored-value payment is taken only
within the card's ``offline_limit_fen`` per payment and ``offline_daily_fen`` per day at this station;
``offline_refusal`` is the one place that decides it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from telemetry.contracts.members import ListedCard, ListedMember, mask_phone

CHINA = ZoneInfo("Asia/Shanghai")
PHONE = re.compile(r"^1[3-9][0-9]{9}$")
CARD_NO = re.compile(r"^[0-9]{16}([0-9]{3})?$")
PLATE = re.compile(r"^[\u4e00-\u9fa5][A-Z][A-Z0-9]{5,6}$")
QR = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
OFFLINE_NOTE = "离线"


class MemberRuleError(ValueError):
    """A request that breaks a rule; its message says what to do, Chinese first. ``status`` 422 for bad
    input, 409 when the state of things refuses it."""

    def __init__(self, message: str, status: int = 422, field: str = "request") -> None:
        super().__init__(message)
        self.message, self.status, self.field = message, status, field


class LookupBy(StrEnum):
    PHONE = "phone"
    CARD_NO = "card_no"
    QR = "qr"
    PLATE = "plate"


_RULES = {LookupBy.PHONE: (PHONE, "手机号应为 11 位数字 (a phone is 11 digits starting with 1)"),
          LookupBy.CARD_NO: (CARD_NO, "卡号应为 16 或 19 位数字 (a card number is 16 or 19 digits)"),
          LookupBy.QR: (QR, "会员码无法识别，请重新扫码 (the member QR code was not recognised; scan again)"),
          LookupBy.PLATE: (PLATE, "车牌格式不对，如 京A12345 (a plate like 京A12345)")}


def lookup_key(by: LookupBy, value: str) -> str:
    """The value as looked up (spaces removed, a plate upper-cased); refused when it cannot be one."""
    cleaned = re.sub(r"\s+", "", value)
    if by is LookupBy.PLATE:
        cleaned = cleaned.upper()
    pattern, message = _RULES[by]
    if not pattern.match(cleaned):
        raise MemberRuleError(message, 422, by.value)
    return cleaned


def mask_card(card_no: str) -> str:
    """6222 **** **** 1234: a card number on screen for a user without ``pii:read``."""
    return card_no[:4] + " **** **** " + card_no[-4:]


def mask_plate(plate: str) -> str:
    """京A***45."""
    return plate[:2] + "***" + plate[-2:] if len(plate) >= 5 else "***"


def yuan(fen: int) -> str:
    return f"{fen / 100:.2f}"


def business_day(at: datetime) -> date:
    """The station's day (China time): what an offline daily limit counts within."""
    return at.astimezone(CHINA).date()


def offline_refusal(card: ListedCard | None, amount_fen: int, spent_today_fen: int, plate: str | None = None,
                    grade: int | None = None) -> str | None:
    """None when a stored-value payment of ``amount_fen`` may be taken while head office is unreachable, else
    why not, for the cashier. ``spent_today_fen``: what this card paid offline at this station today."""
    down = "总部连接中断，"
    if card is None:
        return down + "本站名单中没有此卡，请改用其他方式 (head office is unreachable and this card is not on the " \
                      "station's list; take another method)"
    if card.kind != "stored_value":
        return down + "此卡不是储值卡 (not a stored-value card)"
    if card.status != "active":
        status = {"frozen": "已冻结", "lost": "已挂失", "closed": "已注销"}.get(card.status, card.status)
        return f"储值卡{status}，不能收款 (the card is {card.status})"
    if card.plates and plate is not None and plate not in card.plates:
        return "此卡限定车辆，与本车车牌不符 (the card is restricted to other vehicles)"
    if card.grades and grade is not None and grade not in card.grades:
        return "此卡限制油品，不能购买此油品 (the card may not buy this grade)"
    limit = min(card.offline_limit_fen, max(card.offline_daily_fen - spent_today_fen, 0))
    if amount_fen > limit:
        return (f"总部连接中断，储值卡离线限额 ¥{yuan(card.offline_limit_fen)}"
                f"（今日本站已离线消费 ¥{yuan(spent_today_fen)}，单日离线限额 ¥{yuan(card.offline_daily_fen)}），"
                f"请改用其他方式 (head office is unreachable; this card may pay at most "
                f"{yuan(limit)} yuan offline now)")
    left = card.balance_fen - spent_today_fen     # the listed balance less what it paid offline here today
    if amount_fen > left:
        return f"储值卡余额不足（约 ¥{yuan(max(left, 0))}） (the card's balance is too low)"
    return None


@dataclass(frozen=True, slots=True)
class CardSummary:
    card_no: str
    kind: str
    status: str
    balance_fen: int
    offline_limit_fen: int = 0


@dataclass(frozen=True, slots=True)
class MemberSummary:
    """What the POS shows of a member: the same shape from head office (online) and from the list (offline,
    ``offline`` True: balances as of the list, points unknown)."""

    member_no: str
    name: str
    phone: str
    level: str
    level_name: str
    discount_pct: int
    points_balance: int | None
    cards: tuple[CardSummary, ...] = ()
    plates: tuple[str, ...] = ()
    offline: bool = False
    blocked_plate: str | None = None        # the plate looked up is blacklisted: why
    extra: dict[str, Any] = field(default_factory=dict)


def from_list(member: ListedMember, cards: list[ListedCard], blocked: str | None = None) -> MemberSummary:
    """The summary from the station's list (offline): masked name and phone as listed, balances as listed."""
    return MemberSummary(
        member.member_no, member.name_masked, member.phone_masked, member.level, member.level_name,
        member.discount_pct, None,
        tuple(CardSummary(c.card_no, c.kind, c.status, c.balance_fen, c.offline_limit_fen) for c in cards),
        member.plates, offline=True, blocked_plate=blocked)


def from_head_office(data: dict[str, Any], blocked: str | None = None) -> MemberSummary:
    """The summary from head office's lookup answer (``GET /api/v1/members/lookup``)."""
    cards = tuple(CardSummary(str(c.get("card_no", "")), str(c.get("kind", "stored_value")),
                              str(c.get("status", "active")), int(c.get("balance_fen") or 0),
                              int(c.get("offline_limit_fen") or 0))
                  for c in data.get("cards") or ())
    plates = tuple(p if isinstance(p, str) else str(p.get("plate", "")) for p in data.get("plates") or ())
    phone = str(data.get("phone") or "")
    return MemberSummary(str(data["member_no"]), str(data.get("name") or ""),
                         phone if "*" in phone else mask_phone(phone) if phone else "",
                         str(data.get("level") or ""), str(data.get("level_name") or ""),
                         int(data.get("discount_pct") or 0),
                         None if data.get("points_balance") is None else int(data["points_balance"]),
                         cards, plates, offline=False, blocked_plate=blocked)
