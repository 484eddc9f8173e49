"""Points at head office: the pure rules (no I/O). docs/points.md.

- **Earning rules** (积分规则), each with the days it is in effect (China time, both ends included):
  ``base`` points per 元 or per litre (kg for gas), for every grade or for the grades it names (the rule naming
  the grade wins over one for every grade); ``level`` a multiplier for members of one level; ``day`` a
  multiplier on a day of the month (会员日, e.g. ×2 on the 8th) or a weekday; ``campaign`` a multiplier and/or a
  fixed bonus for a date range, at the stations and grades it names. ``points_for`` is the one place a sale's
  points are decided: ``floor(base × level × day × campaign) + bonus`` (of each kind of multiplier the largest
  that applies: they multiply across kinds, never within one). A member's level brings its own standing
  multiplier (the level's benefit, kept by the members context); a ``level`` rule raises it for a period.
- **Lots**: each award is a lot that expires at the end of the year ``expiry_years`` after the year earned
  (``expires_at``); spending draws lots oldest expiry first (``draw``); what is left of an expired lot expires.
- **Refunds** take back ``floor(refunded / order amount × earned)``, at most what the order still holds and at
  most what the member still has; the rest becomes a **points debt** that the member's next earnings pay first
  (``reversal``).

Errors are ``PointsError`` (a request to correct: 422 naming the field) or ``PointsRefused`` (a state that
refuses it: 409), messages in Chinese first, then English.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo

from business_services.stations.model import GRADES

CHINA = ZoneInfo("Asia/Shanghai")
MAX_POINTS = 100_000_000            # one movement, one rule's bonus, one mall price: far above any real one
MAX_MULTIPLIER = Decimal(20)


class PointsError(ValueError):
    """A request that breaks a rule; ``field`` names what to correct."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class PointsRefused(Exception):
    """The request is well formed but the state refuses it (not enough points, out of stock …): 409."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RuleKind(StrEnum):
    BASE = "base"
    LEVEL = "level"
    DAY = "day"
    CAMPAIGN = "campaign"


class Basis(StrEnum):
    AMOUNT = "amount"     # points per 元 paid
    VOLUME = "volume"     # points per litre (kg for CNG/LNG)


@dataclass(frozen=True, slots=True)
class Sale:
    """What a sale earns by: its station, grade (code as in stations.model.GRADES), volume and amount."""

    station: str
    amount_fen: int
    grade: str | None = None
    volume_l: Decimal | None = None


@dataclass(frozen=True, slots=True)
class MemberLevel:
    """A member's level as points see it: its code and the level's own points multiplier (a benefit)."""

    code: str
    multiplier: Decimal = Decimal(1)


@dataclass(frozen=True, slots=True)
class Rule:
    kind: RuleKind
    effective_from: date
    effective_to: date | None = None          # the last day in effect; None: until ended
    name: str = ""
    id: int = 0
    basis: Basis | None = None                # base
    rate: Decimal | None = None               # base: points per 元 or per litre
    grades: frozenset[str] | None = None      # base, campaign: None = every grade
    level: str | None = None                  # level: the member level's code
    multiplier: Decimal | None = None         # level, day, campaign
    day_of_month: int | None = None           # day: 1–31
    weekday: int | None = None                # day: 1 (Monday) – 7
    stations: frozenset[str] | None = None    # campaign: None = every station
    bonus: int | None = None                  # campaign: fixed points per sale

    def in_effect(self, day: date) -> bool:
        return self.effective_from <= day and (self.effective_to is None or day <= self.effective_to)

    def covers_grade(self, grade: str | None) -> bool:
        return self.grades is None or grade in self.grades


def check_rule(rule: Rule) -> Rule:
    """The rule, or ``PointsError`` naming the field that does not fit its kind."""
    if rule.effective_to is not None and rule.effective_to < rule.effective_from:
        raise PointsError("effective_to", "结束日期不能早于开始日期 (effective_to is on or after effective_from)")
    if rule.grades is not None:
        unknown = sorted(rule.grades - set(GRADES))
        if unknown or not rule.grades:
            raise PointsError("grades", f"没有油品 {', '.join(unknown)}；可选 {', '.join(GRADES)} "
                                        "(no such grade; choose from these)")
    if rule.multiplier is not None and not Decimal(1) <= rule.multiplier <= MAX_MULTIPLIER:
        raise PointsError("multiplier", f"倍数应在 1–{MAX_MULTIPLIER} 之间 (a multiplier is 1 to {MAX_MULTIPLIER})")
    needs: dict[RuleKind, tuple[str, ...]] = {
        RuleKind.BASE: ("basis", "rate"), RuleKind.LEVEL: ("level", "multiplier"),
        RuleKind.DAY: ("multiplier",), RuleKind.CAMPAIGN: ()}
    for name in needs[rule.kind]:
        if getattr(rule, name) is None:
            raise PointsError(name, f"此类规则须填写 {name} (a {rule.kind.value} rule needs {name})")
    if rule.kind is RuleKind.BASE and rule.rate is not None and not Decimal(0) < rule.rate <= 1000:
        raise PointsError("rate", "每元或每升积分应大于 0、不超过 1000 (rate is over 0 and at most 1000)")
    if rule.kind is RuleKind.DAY:
        if (rule.day_of_month is None) == (rule.weekday is None):
            raise PointsError("day_of_month", "会员日须填每月几号或星期几（二选一） (a day rule names a day of the "
                                              "month or a weekday, one of them)")
        if rule.day_of_month is not None and not 1 <= rule.day_of_month <= 31:
            raise PointsError("day_of_month", "每月几号应在 1–31 之间 (day_of_month is 1 to 31)")
        if rule.weekday is not None and not 1 <= rule.weekday <= 7:
            raise PointsError("weekday", "星期几应在 1（周一）–7（周日）之间 (weekday is 1, Monday, to 7)")
    if rule.kind is RuleKind.CAMPAIGN:
        if rule.multiplier is None and not rule.bonus:
            raise PointsError("multiplier", "活动须有倍数或赠送积分 (a campaign has a multiplier or a bonus)")
        if rule.bonus is not None and not 0 <= rule.bonus <= MAX_POINTS:
            raise PointsError("bonus", f"赠送积分应在 0–{MAX_POINTS} 之间 (bonus is 0 to {MAX_POINTS})")
        if rule.effective_to is None:
            raise PointsError("effective_to", "活动须有结束日期 (a campaign has an end date)")
    return rule


def _base(sale: Sale, rules: Sequence[Rule]) -> Decimal:
    """The base points of the most specific base rule (one naming the grade over one for every grade; then the
    latest start, then the newest rule); 0 when none applies."""
    fitting = [r for r in rules if r.kind is RuleKind.BASE and r.covers_grade(sale.grade)
               and (r.basis is Basis.AMOUNT or sale.volume_l is not None)]
    if not fitting:
        return Decimal(0)
    rule = max(fitting, key=lambda r: (r.grades is not None, r.effective_from, r.id))
    rate = rule.rate or Decimal(0)
    if rule.basis is Basis.VOLUME:
        return (sale.volume_l or Decimal(0)) * rate
    return Decimal(sale.amount_fen) / 100 * rate


def _largest(multipliers: Iterable[Decimal | None]) -> Decimal:
    return max((m for m in multipliers if m is not None), default=Decimal(1))


def points_for(sale: Sale, member_level: MemberLevel | None, rules: Iterable[Rule], at: datetime) -> int:
    """The points ``sale`` earns a member of ``member_level`` under ``rules`` at ``at`` (aware; its day in China).
    The level multiplier is the larger of the level's own and the level rules in effect for it."""
    if sale.amount_fen <= 0:
        return 0
    day = at.astimezone(CHINA).date()
    live = [r for r in rules if r.in_effect(day)]
    code = None if member_level is None else member_level.code
    level = _largest([None if member_level is None else member_level.multiplier,
                      *(r.multiplier for r in live if r.kind is RuleKind.LEVEL and r.level == code)])
    days = _largest(r.multiplier for r in live if r.kind is RuleKind.DAY
                    and (r.day_of_month == day.day or r.weekday == day.isoweekday()))
    campaigns = [r for r in live if r.kind is RuleKind.CAMPAIGN and r.covers_grade(sale.grade)
                 and (r.stations is None or sale.station in r.stations)]
    earned = math.floor(_base(sale, live) * level * days * _largest(r.multiplier for r in campaigns))
    return min(earned + sum(r.bonus or 0 for r in campaigns), MAX_POINTS)


# ---- settings, lots, refunds ---------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Settings:
    """The company's points settings (one row; defaults until someone sets them)."""

    expiry_years: int = 1        # a lot expires at the end of the year this many years after it was earned
    points_per_yuan: int = 100   # points as a tender at the POS: 100 points = 1 元
    assign_days: int = 7         # 积分归属: a sale's points may go to another member within this many days

    def __post_init__(self) -> None:
        if not 0 <= self.expiry_years <= 10:
            raise PointsError("expiry_years", "有效期应在 0–10 年之间（0：当年年底过期） (0 to 10 years)")
        if not 1 <= self.points_per_yuan <= 10_000:
            raise PointsError("points_per_yuan", "抵现比例应在 1–10000 积分/元之间 (1 to 10000 points a yuan)")
        if not 0 <= self.assign_days <= 365:
            raise PointsError("assign_days", "积分归属期限应在 0–365 天之间 (0 to 365 days)")


def expires_at(earned_at: datetime, settings: Settings) -> datetime:
    """The end of the year ``expiry_years`` after the year ``earned_at`` falls in (China time): 2026's points
    expire at 2028-01-01 00:00 +08:00 with the default of one year (the end of the following year)."""
    year = earned_at.astimezone(CHINA).year + settings.expiry_years + 1
    return datetime(year, 1, 1, tzinfo=CHINA)


@dataclass(frozen=True, slots=True)
class Lot:
    id: int
    remaining: int
    expires_at: datetime


def draw(lots: Sequence[Lot], amount: int, first: int | None = None) -> list[tuple[Lot, int]]:
    """Which lots give ``amount`` points and how many each: lot ``first`` (the lot being taken back) before the
    rest, then oldest expiry first (FIFO), ties by lot id. ``PointsRefused`` when they hold too few."""
    if amount <= 0:
        raise PointsError("points", "积分须为正数 (points are positive)")
    order = sorted(lots, key=lambda lot: (lot.id != first, lot.expires_at, lot.id))
    taken: list[tuple[Lot, int]] = []
    left = amount
    for lot in order:
        if left == 0:
            break
        take = min(lot.remaining, left)
        if take > 0:
            taken.append((lot, take))
            left -= take
    if left:
        raise PointsRefused(f"积分不足：可用 {amount - left}，需要 {amount} "
                            f"(not enough points: {amount - left} available, {amount} needed)")
    return taken


def refund_share(earned: int, order_amount_fen: int, refunded_fen: int) -> int:
    """The points a refund of ``refunded_fen`` of an order takes back: floor(refunded / amount × earned)."""
    if order_amount_fen <= 0 or earned <= 0:
        return 0
    return min(earned, earned * min(refunded_fen, order_amount_fen) // order_amount_fen)


@dataclass(frozen=True, slots=True)
class Reversal:
    taken: int          # taken from the member's points now
    owed: int           # recorded as points debt, paid by the next earnings


def reversal(wanted: int, available: int) -> Reversal:
    """Take what the member still has; the rest is a debt (never a negative balance)."""
    taken = max(0, min(wanted, available))
    return Reversal(taken, max(0, wanted - taken))


def within_days(sold_at: datetime, now: datetime, days: int) -> bool:
    """Whether 积分归属 is still open: ``days`` whole days after the sale (China time, to the end of that day)."""
    last = sold_at.astimezone(CHINA).date() + timedelta(days=days)
    return now.astimezone(CHINA).date() <= last


# ---- commands (head office API) ------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class AddRule:
    rule: Rule
    note: str = ""


@dataclass(frozen=True, slots=True)
class ChangeRule:
    rule: Rule            # its id names the rule changed
    note: str = ""


@dataclass(frozen=True, slots=True)
class ChangeSettings:
    settings: Settings


@dataclass(frozen=True, slots=True)
class Adjust:
    """A manual grant (``points`` > 0) or deduction (< 0) with its reason (积分调整)."""

    adjust_no: str
    member_no: str
    points: int
    reason: str
    at: datetime

    def __post_init__(self) -> None:
        if self.points == 0 or abs(self.points) > MAX_POINTS:
            raise PointsError("points", f"调整积分不能为 0，绝对值不超过 {MAX_POINTS} (non-zero, at most {MAX_POINTS})")
        if not self.reason.strip():
            raise PointsError("reason", "请填写调整原因 (give the reason)")


@dataclass(frozen=True, slots=True)
class SaveItem:
    """Add (``create``) or change a points-mall item; ``values`` holds repository.ITEM_COLUMNS (a change: some)."""

    sku: str
    values: dict[str, object]
    create: bool


@dataclass(frozen=True, slots=True)
class Redeem:
    redemption_no: str
    member_no: str
    sku: str
    quantity: int
    station: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class Transfer:
    """转赠: ``points`` from one member to another; they keep the expiry of the lots they came from."""

    transfer_no: str
    from_member: str
    to_member: str
    points: int
    at: datetime

    def __post_init__(self) -> None:
        if self.from_member == self.to_member:
            raise PointsError("to_member", "不能转赠给自己 (a member cannot give points to themselves)")
        if not 0 < self.points <= MAX_POINTS:
            raise PointsError("points", f"转赠积分应在 1–{MAX_POINTS} 之间 (1 to {MAX_POINTS})")


@dataclass(frozen=True, slots=True)
class Assign:
    """积分归属: a sale's points go to ``member_no`` (from the member who earned them, or a sale made without
    a member), within ``Settings.assign_days`` of the sale, once per order."""

    station: str
    order_no: str
    member_no: str
    at: datetime
