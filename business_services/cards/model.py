"""Pure rules of stored-value cards at head office (no I/O): card numbers, types, restrictions, offers, closing.

A card's money is the ledger account ``card(card_no)`` (business_services/ledger/model.py); this module decides
everything else: the number printed on a card (an issuer prefix, a serial and a Luhn check digit, 16 or 19
digits), which states a card moves between, whether a payment may be taken (``refusal``), which recharge offer
a recharge earns (``best_offer``), what closing a card does with its balance (``closing``), and how much of an
offline sale the card covers (``settle_offline``). Every refusal is a ``CardRefused`` whose message is what the
POS and the back office show (Chinese first).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from enum import StrEnum

#: the company's day (daily limits, offer dates): China Standard Time
CHINA = timezone(timedelta(hours=8), "CST")
MAX_BATCH = 1000          # cards in one batch-issue request (a larger run is several requests)
MAX_FEN = 100_000_000     # 100 万元: the most any one amount may be


class Status(StrEnum):
    ACTIVE = "active"     # 正常
    FROZEN = "frozen"     # 冻结 (by hand, or by an offline sale the card could not cover)
    LOST = "lost"         # 挂失
    CLOSED = "closed"     # 已注销 (final)


STATUS_NAMES = {Status.ACTIVE: "正常", Status.FROZEN: "冻结", Status.LOST: "挂失", Status.CLOSED: "已注销"}


class CardError(ValueError):
    """A request that breaks a rule (422); ``field`` names what to fix, the message says how (Chinese first)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class CardRefused(Exception):
    """The card's state or rules refuse the request (409); the message is shown as it is."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class CardNotFound(LookupError):
    """No such card, type, offer or payment (404)."""


# ---- card numbers ----------------------------------------------------------------------------------------

def luhn_digit(digits: str) -> str:
    """The check digit that makes ``digits`` + it pass the Luhn check (ISO/IEC 7812)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:            # every second digit from the right, starting next to the check digit
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return str((10 - total % 10) % 10)


def luhn_valid(card_no: str) -> bool:
    return len(card_no) >= 2 and card_no.isdigit() and luhn_digit(card_no[:-1]) == card_no[-1]


def serial_width(prefix: str, length: int) -> int:
    return length - len(prefix) - 1


def card_number(prefix: str, length: int, serial: int) -> str:
    """The ``serial``-th card of a type: prefix, the serial zero-padded, the Luhn digit."""
    width = serial_width(prefix, length)
    if not 1 <= serial < 10**width:
        raise CardError("first_serial", f"流水号应在 1–{10**width - 1} 之间 (the serial must fit {width} digits)")
    body = f"{prefix}{serial:0{width}d}"
    return body + luhn_digit(body)


def check_card_no(card_no: str, field_name: str = "card_no") -> str:
    if not (card_no.isdigit() and len(card_no) in (16, 19)):
        raise CardError(field_name, "卡号应为 16 或 19 位数字 (a card number is 16 or 19 digits)")
    if not luhn_valid(card_no):
        raise CardError(field_name, "卡号校验位不对，请核对卡号 (the check digit does not match: check the number)")
    return card_no


def mask_card_no(card_no: str) -> str:
    """6228 **** **** 1234 as one string: the first four and the last four digits."""
    return card_no[:4] + "*" * (len(card_no) - 8) + card_no[-4:]


def mask_plate(plate: str) -> str:
    """粤B****5: the province, the letter and the last character."""
    return plate[:2] + "*" * max(len(plate) - 3, 0) + plate[-1:] if len(plate) > 3 else "***"


# ---- card types ------------------------------------------------------------------------------------------

class Scope(StrEnum):
    STATION = "station"       # 单站卡: only at its station
    CHAIN = "chain"           # 连锁卡: at every station of the company


class Medium(StrEnum):
    PHYSICAL = "physical"     # 实体卡
    ELECTRONIC = "electronic"  # 电子卡 (in the member's app)


class CardKind(StrEnum):
    STORED_VALUE = "stored_value"   # 储值卡: the balance is kept at head office
    IC = "ic"                       # IC 卡: a purse on the chip, loaded from the reserve account (part I)


@dataclass(frozen=True, slots=True)
class Limits:
    """Restrictions of a card (a type's defaults, copied to each card it issues). None / empty: no limit."""

    daily_limit_fen: int | None = None       # 单日消费限额
    litres_per_fill: int | None = None       # 单次加油升数上限
    fills_per_day: int | None = None         # 单日加油次数上限

    def __post_init__(self) -> None:
        for name in ("daily_limit_fen", "litres_per_fill", "fills_per_day"):
            value = getattr(self, name)
            if value is not None and not 0 < value <= MAX_FEN:
                raise CardError(name, f"{name} 应为正数或不填 (a positive number, or empty for no limit)")


@dataclass(frozen=True, slots=True)
class CardType:
    code: str
    name: str
    scope: Scope
    station: str | None                     # a single-station type's station
    named: bool                             # 记名卡 (a lost one can be reported and replaced) / 不记名卡
    medium: Medium
    kind: CardKind
    prefix: str                             # issuer prefix of the numbers (4–10 digits)
    length: int                             # 16 or 19
    limits: Limits = field(default_factory=Limits)
    offline_limit_fen: int = 0              # the most one payment may be while head office is unreachable
    offline_daily_fen: int = 0              # the most a day at one station offline

    def __post_init__(self) -> None:
        if not (2 <= len(self.code) <= 32 and self.code.replace("-", "").isalnum() and self.code.isascii()):
            raise CardError("code", "类型编码为 2–32 位字母、数字或 - (2–32 letters, digits or -)")
        if not self.name.strip() or len(self.name) > 40:
            raise CardError("name", "请填写类型名称（最多 40 字）(a name of at most 40 characters)")
        if (self.scope is Scope.STATION) != (self.station is not None):
            raise CardError("station", "单站卡须指定站点，连锁卡不指定 (a single-station type names its station; "
                                       "a chain type none)")
        if self.length not in (16, 19):
            raise CardError("length", "卡号长度为 16 或 19 位 (16 or 19 digits)")
        if not (self.prefix.isdigit() and 4 <= len(self.prefix) <= 10 and self.prefix[0] != "0"):
            raise CardError("prefix", "卡号前缀为 4–10 位数字，不以 0 开头 (4–10 digits, not starting with 0)")
        for name in ("offline_limit_fen", "offline_daily_fen"):
            if not 0 <= getattr(self, name) <= MAX_FEN:
                raise CardError(name, "离线限额应在 0–100 万元之间 (0 to 1,000,000 yuan; 0: never offline)")
        if self.offline_limit_fen > self.offline_daily_fen and self.offline_daily_fen:
            raise CardError("offline_limit_fen", "单笔离线限额不能大于单日离线限额 (the per-payment offline limit "
                                                 "cannot exceed the daily one)")


@dataclass(frozen=True, slots=True)
class Restrictions:
    """What a card may buy: empty tuples mean any; ``limits`` as above."""

    plates: tuple[str, ...] = ()
    grades: tuple[int, ...] = ()
    stations: tuple[str, ...] = ()
    limits: Limits = field(default_factory=Limits)


def restrictions_of(card_type: CardType, plates: Sequence[str] = (), grades: Sequence[int] = (),
                    stations: Sequence[str] = (), limits: Limits | None = None) -> Restrictions:
    """A new card's restrictions: the type's limits unless given; a single-station type's card only at its station."""
    if card_type.scope is Scope.STATION:
        assert card_type.station is not None   # noqa: S101 (checked by CardType)
        if any(s != card_type.station for s in stations):
            raise CardError("stations", f"单站卡只能在 {card_type.station} 使用 (a single-station card is for "
                                        f"{card_type.station} only)")
        stations = (card_type.station,)
    return Restrictions(tuple(sorted(set(plates))), tuple(sorted(set(grades))), tuple(sorted(set(stations))),
                        card_type.limits if limits is None else limits)


# ---- paying with a card ----------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class CardState:
    card_no: str
    kind: CardKind
    status: Status
    restrictions: Restrictions


@dataclass(frozen=True, slots=True)
class PaymentAsk:
    station: str
    amount_fen: int
    grade: int | None = None
    volume_l: Decimal | None = None
    plate: str | None = None


@dataclass(frozen=True, slots=True)
class Usage:
    """What the card paid today (the company's day) before this payment: amount and number of fills."""

    amount_fen: int = 0
    fills: int = 0


REFUSED_BY_STATUS = {Status.FROZEN: "卡已冻结，请到营业厅处理 (the card is frozen)",
                     Status.LOST: "卡已挂失，不能消费 (the card is reported lost)",
                     Status.CLOSED: "卡已注销 (the card is closed)"}


def refusal(card: CardState, ask: PaymentAsk, today: Usage) -> str | None:
    """Why the card may not pay ``ask`` (the message the POS shows), or None. The balance is the ledger's
    to check (its CHECK refuses an overdraft, even between two payments at once)."""
    if card.status is not Status.ACTIVE:
        return REFUSED_BY_STATUS[card.status]
    if card.kind is not CardKind.STORED_VALUE:
        return "IC 卡请插卡用卡内余额支付 (an IC card pays from its chip)"
    r = card.restrictions
    if r.stations and ask.station not in r.stations:
        return f"限制站点：本卡不能在 {ask.station} 使用 (this card is not for this station)"
    if r.plates and ask.plate not in r.plates:
        return "限制车牌：本卡只能给绑定的车辆加油 (this card is for its bound vehicles only)"
    if r.grades and ask.grade not in r.grades:
        return "限制油品：本卡不能购买此油品 (this card may not buy this grade)"
    limits = r.limits
    if limits.litres_per_fill is not None and ask.volume_l is not None and ask.volume_l > limits.litres_per_fill:
        return f"超出单次加油量上限 {limits.litres_per_fill} 升 (more litres than one fill may take)"
    if limits.fills_per_day is not None and today.fills + 1 > limits.fills_per_day:
        return f"超出单日加油次数上限 {limits.fills_per_day} 次 (more fills than a day allows)"
    if limits.daily_limit_fen is not None and today.amount_fen + ask.amount_fen > limits.daily_limit_fen:
        left = max(0, limits.daily_limit_fen - today.amount_fen)
        return f"超出单日限额，今日还可用 {left / 100:.2f} 元 (over the daily limit)"
    return None


INSUFFICIENT = "余额不足 (the card's balance does not cover the amount)"


def day_start(at: datetime) -> datetime:
    """The start of ``at``'s day in China, in UTC (for "today's" usage)."""
    local = at.astimezone(CHINA).date()
    return datetime.combine(local, time(), CHINA).astimezone(UTC)


@dataclass(frozen=True, slots=True)
class OfflineSettlement:
    """An offline sale head office learns of: what the card covers and what it owes (CARD_OVERDRAFT)."""

    covered_fen: int
    shortfall_fen: int


def settle_offline(balance_fen: int, amount_fen: int) -> OfflineSettlement:
    """The card pays what it holds; the rest is an overdraft that freezes the card until repaid."""
    covered = min(max(balance_fen, 0), amount_fen)
    return OfflineSettlement(covered, amount_fen - covered)


def repayment(balance_fen: int, overdraft_fen: int) -> int:
    """How much of a card's overdraft its balance repays now (all it can)."""
    return min(max(balance_fen, 0), max(overdraft_fen, 0))


# ---- recharges and offers --------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Offer:
    """A recharge offer (充值优惠): pay at least ``min_paid_fen`` within the dates, get ``bonus_fen``."""

    id: int
    name: str
    min_paid_fen: int
    bonus_fen: int
    starts_on: date
    ends_on: date
    stations: tuple[str, ...] = ()       # empty: every station
    card_types: tuple[str, ...] = ()     # empty: every card type
    active: bool = True

    def __post_init__(self) -> None:
        if not self.name.strip() or len(self.name) > 60:
            raise CardError("name", "请填写优惠名称（最多 60 字）(a name of at most 60 characters)")
        if not 0 < self.min_paid_fen <= MAX_FEN:
            raise CardError("min_paid_fen", "充值门槛应大于 0 (the threshold must be positive)")
        if not 0 < self.bonus_fen <= self.min_paid_fen:
            raise CardError("bonus_fen", "赠送金额应大于 0 且不超过充值门槛 (the bonus is positive and at most the "
                                         "threshold)")
        if self.ends_on < self.starts_on:
            raise CardError("ends_on", "结束日期不能早于开始日期 (the end is before the start)")

    def applies(self, paid_fen: int, station: str, card_type: str, day: date) -> bool:
        return (self.active and paid_fen >= self.min_paid_fen and self.starts_on <= day <= self.ends_on
                and (not self.stations or station in self.stations)
                and (not self.card_types or card_type in self.card_types))


def best_offer(offers: Iterable[Offer], paid_fen: int, station: str, card_type: str, day: date) -> Offer | None:
    """The offer a recharge earns: of those that apply, the largest bonus (the higher threshold, then the
    lower id, on a tie). One offer per recharge: offers do not add up."""
    found = [o for o in offers if o.applies(paid_fen, station, card_type, day)]
    return max(found, key=lambda o: (o.bonus_fen, o.min_paid_fen, -o.id), default=None)


def check_recharge(status: Status, is_sub_card: bool, paid_fen: int) -> None:
    if not 0 < paid_fen <= MAX_FEN:
        raise CardError("paid_fen", "充值金额应在 0.01–100 万元之间 (0.01 to 1,000,000 yuan)")
    if status in (Status.LOST, Status.CLOSED):
        raise CardRefused(f"卡{STATUS_NAMES[status]}，不能充值 (a {status.value} card cannot be recharged)")
    if is_sub_card:
        raise CardRefused("副卡不能直接充值，请由主卡分配 (a sub card is funded by its main card's allocation)")


# ---- closing ----------------------------------------------------------------------------------------------

class Closing(StrEnum):
    REFUND = "refund"     # 记名卡: the balance is owed back to the holder (退卡待退款, paid out by finance)
    FORFEIT = "forfeit"   # 不记名卡: the balance is forfeited (不记名卡不挂失、不退款)


def closing(named: bool) -> Closing:
    """What closing a card does with its balance: a named card's is refunded, an anonymous card's forfeited."""
    return Closing.REFUND if named else Closing.FORFEIT


def check_close(status: Status, overdraft_fen: int, open_sub_cards: int) -> None:
    if status is Status.CLOSED:
        raise CardRefused("卡已注销 (the card is already closed)")
    if overdraft_fen:
        raise CardRefused(f"卡有 {overdraft_fen / 100:.2f} 元离线透支未还，请先充值还款 (repay the overdraft first)")
    if open_sub_cards:
        raise CardRefused(f"主卡还有 {open_sub_cards} 张未注销的副卡，请先注销副卡 (close its sub cards first)")


# ---- status changes ---------------------------------------------------------------------------------------

class Action(StrEnum):
    """Changes of a card that need someone else's approval (docs/cards.md)."""

    REPORT_LOSS = "report_loss"      # 挂失
    UNLOCK = "unlock"                # 解挂
    REPLACE = "replace"              # 补卡（新卡接收余额）
    TRANSFER = "transfer"            # 过户


ACTION_NAMES = {Action.REPORT_LOSS: "挂失", Action.UNLOCK: "解挂", Action.REPLACE: "补卡",
                Action.TRANSFER: "过户"}


def check_action(action: Action, status: Status, named: bool, to_member_no: str | None) -> None:
    """Whether ``action`` may be asked for a card in ``status`` (checked again when it is approved)."""
    if status is Status.CLOSED:
        raise CardRefused("卡已注销 (the card is closed)")
    if action in (Action.REPORT_LOSS, Action.REPLACE) and not named:
        raise CardRefused("不记名卡不能挂失或补卡 (an anonymous card cannot be reported lost or replaced)")
    if action is Action.REPORT_LOSS and status is Status.LOST:
        raise CardRefused("卡已挂失 (the card is already reported lost)")
    if action is Action.UNLOCK and status is not Status.LOST:
        raise CardRefused("卡未挂失，不需解挂 (the card is not reported lost)")
    if action is Action.TRANSFER and not to_member_no:
        raise CardError("to_member_no", "过户须填写新持卡会员号 (name the member the card goes to)")


def check_freeze(status: Status, freeze: bool) -> None:
    if freeze and status is not Status.ACTIVE:
        raise CardRefused(f"只有正常状态的卡可以冻结，本卡{STATUS_NAMES[status]} (only an active card can be frozen)")
    if not freeze and status is not Status.FROZEN:
        raise CardRefused("卡未冻结 (the card is not frozen)")


def check_allocation(main_status: Status, sub_main_card_no: str | None, main_card_no: str, amount_fen: int) -> None:
    if not 0 < amount_fen <= MAX_FEN:
        raise CardError("amount_fen", "分配金额应大于 0 (the amount must be positive)")
    if sub_main_card_no != main_card_no:
        raise CardRefused("该卡不是本主卡的副卡 (that card is not a sub card of this main card)")
    if main_status is not Status.ACTIVE:
        raise CardRefused(REFUSED_BY_STATUS[main_status])
