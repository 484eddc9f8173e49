"""May this fleet card fuel here and now, and how much? The one rule (pure), used by head office when it
reserves and by a station server that decides alone while head office is unreachable (docs/fleets.md).

The answer is a preset in fen for the pump (``Decision.preset_fen``): the least of what the driver asked for,
every amount limit's remainder (per fill, day, week, month), the litres per fill at the grade's price, and the
money the card may spend (its balance or the enterprise's remaining credit, less open reservations). Anything
that forbids the fuelling outright (card or enterprise not active, wrong grade, station, plate or hour, fills
used up, nothing left) refuses it with a reason the cashier can read out. Periods are local (Asia/Shanghai):
the day, the ISO week from Monday, the calendar month. ``Usage`` counts captured sales and open reservations
alike, so two pumps asking at once cannot both spend the same remainder (head office decides under the card's
row lock).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

LOCAL = ZoneInfo("Asia/Shanghai")
#: below this a preset is not worth starting the pump for (one litre of the cheapest grade is more)
MIN_PRESET_FEN = 100


@dataclass(frozen=True, slots=True)
class CardLimits:
    card_no: str
    enterprise: str
    status: str                       # the card's: active, frozen, lost, closed
    enterprise_status: str            # normal, frozen, closed
    plate: str | None = None          # a vehicle card fuels only its vehicle
    grades: tuple[int, ...] = ()      # empty: any grade
    stations: tuple[str, ...] = ()    # empty: any station
    hours: tuple[int, int] | None = None   # local [from, to) hours, e.g. (6, 22)
    per_fill_fen: int | None = None
    litres_per_fill: int | None = None
    daily_fen: int | None = None
    weekly_fen: int | None = None
    monthly_fen: int | None = None
    fills_per_day: int | None = None
    fills_per_week: int | None = None
    fills_per_month: int | None = None


@dataclass(frozen=True, slots=True)
class Usage:
    """What the card has used in the periods containing the ask (captured sales + open reservations)."""

    day_fen: int = 0
    week_fen: int = 0
    month_fen: int = 0
    day_fills: int = 0
    week_fills: int = 0
    month_fills: int = 0


@dataclass(frozen=True, slots=True)
class Ask:
    station: str
    grade: int
    fen_per_l: int                    # the grade's price at that nozzle now
    at: datetime                      # aware
    plate: str | None = None          # the vehicle in front of the pump, when known (typed or recognised)
    wanted_fen: int | None = None     # what the driver asked for; None: as much as allowed


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    preset_fen: int                   # 0 when refused
    reason: str                       # why refused, or which limit set the preset ("" when nothing did)
    code: str                         # machine-readable: ok, card_status, enterprise_status, grade, station,
    #                                   plate, hours, fills, daily, weekly, monthly, per_fill, litres, funds,
    #                                   too_small


def refused(code: str, reason: str) -> Decision:
    return Decision(False, 0, reason, code)


def decide(card: CardLimits, usage: Usage, ask: Ask, available_fen: int) -> Decision:
    """The preset for ``ask`` (``available_fen``: the card's balance or the enterprise's remaining credit, less
    its open reservations), or why not."""
    if card.status != "active":
        return refused("card_status", f"卡状态为{_CARD_STATUS.get(card.status, card.status)}，不能加油 "
                                      f"(the card is {card.status})")
    if card.enterprise_status != "normal":
        return refused("enterprise_status", f"企业账户{_ENTERPRISE_STATUS.get(card.enterprise_status, '')}，"
                                            f"不能加油 (the enterprise is {card.enterprise_status})")
    if card.grades and ask.grade not in card.grades:
        return refused("grade", f"此卡不能加 {ask.grade} 号油 (the card may not buy grade {ask.grade})")
    if card.stations and ask.station not in card.stations:
        return refused("station", "此卡不能在本站使用 (the card may not be used at this station)")
    if card.plate and ask.plate and ask.plate != card.plate:
        return refused("plate", "车牌与卡绑定车辆不符 (the plate is not the card's vehicle)")
    local = ask.at.astimezone(LOCAL)
    if card.hours and not card.hours[0] <= local.hour < card.hours[1]:
        return refused("hours", f"此卡只能在 {card.hours[0]}:00–{card.hours[1]}:00 加油 "
                                f"(the card fuels only between {card.hours[0]}:00 and {card.hours[1]}:00)")
    for limit, used, name in ((card.fills_per_day, usage.day_fills, "今日"),
                              (card.fills_per_week, usage.week_fills, "本周"),
                              (card.fills_per_month, usage.month_fills, "本月")):
        if limit is not None and used >= limit:
            return refused("fills", f"{name}加油次数已用完（{limit} 次）(no fills left: {limit} used)")
    caps = [(available_fen, "funds", "可用余额"),
            *[(limit - used, code, name) for limit, used, code, name in
              ((card.daily_fen, usage.day_fen, "daily", "今日额度"),
               (card.weekly_fen, usage.week_fen, "weekly", "本周额度"),
               (card.monthly_fen, usage.month_fen, "monthly", "本月额度")) if limit is not None]]
    if card.per_fill_fen is not None:
        caps.append((card.per_fill_fen, "per_fill", "单次限额"))
    if card.litres_per_fill is not None:
        caps.append((card.litres_per_fill * ask.fen_per_l, "litres", "单次限升"))
    cap, code, name = min(caps, key=lambda c: c[0])
    preset = cap if ask.wanted_fen is None else min(cap, ask.wanted_fen)
    if cap < MIN_PRESET_FEN:
        return refused(code, f"{name}已用完，剩余 {max(cap, 0) / 100:.2f} 元 (the {code} limit is used up)")
    if preset < MIN_PRESET_FEN:
        return refused("too_small", f"预置金额至少 {MIN_PRESET_FEN / 100:.2f} 元 (a preset is at least "
                                    f"{MIN_PRESET_FEN} fen)")
    binding = "" if ask.wanted_fen is not None and ask.wanted_fen <= cap else f"{name}剩余 {cap / 100:.2f} 元"
    return Decision(True, preset, binding, "ok")


def periods(at: datetime) -> tuple[datetime, datetime, datetime]:
    """The local starts of the day, the ISO week and the month containing ``at`` (aware, Asia/Shanghai)."""
    local = at.astimezone(LOCAL)
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    week = day.fromordinal(day.toordinal() - day.weekday()).replace(tzinfo=LOCAL)
    return day, week, day.replace(day=1)


_CARD_STATUS = {"frozen": "冻结", "lost": "挂失", "closed": "注销"}
_ENTERPRISE_STATUS = {"frozen": "已冻结", "closed": "已注销"}
