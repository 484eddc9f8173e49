"""The station's side of fleet authorisations (docs/fleets.md "At the station"), pure.

A station decides alone, while head office is unreachable, with the one rule ``fleets.limits.decide`` from the
card's ``ListedFleetCard``: its usage is this station's own reserved and captured authorisations of the card,
and the money it may spend is ``min(available_fen − spent since the list's change, offline_limit_fen − spent
offline today)`` (both at this station).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from business_services.fleets.limits import CardLimits, Usage
from telemetry.contracts.members import ListedFleetCard

NOZZLE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9_.-]{0,31})/([1-4])/([1-4])$")
NO_OFFLINE = "总部连接中断，此卡不允许离线加油，请改用其他方式付款 (head office is unreachable and the card may not " \
             "fuel offline)"
UNKNOWN_CARD = "本站离线名单中没有此卡，请联系总部 (the card is not on this station's list)"
WRONG_PIN = "密码错误，请重新输入 (wrong PIN)"
NEEDS_PIN = "此卡需要输入密码 (the card needs its PIN)"
NO_PLATE_PAYMENT = "此车辆卡未开通车牌无感支付，请收银员收款 (the card does not pay by its plate: the cashier takes it)"


class FleetRuleError(Exception):
    """A request the station refuses before anybody is asked; ``status``: 404 unknown thing, 409 state, 422 input."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.message, self.status = message, status


@dataclass(frozen=True, slots=True)
class Nozzle:
    device: str
    fuelling_point: int
    number: int

    @property
    def key(self) -> str:
        return f"{self.device}/{self.fuelling_point}/{self.number}"


def nozzle(key: str) -> Nozzle:
    """``disp-01/1/2``: the dispenser, its fuelling point and the nozzle's number."""
    found = NOZZLE.match(key)
    if found is None:
        raise FleetRuleError("油枪写作 加油机/加油点/枪号，例如 disp-01/1/1 (a nozzle is device/point/number)")
    return Nozzle(found[1], int(found[2]), int(found[3]))


@dataclass(frozen=True, slots=True)
class Authorisation:
    auth_no: str
    station: str
    card_no: str | None
    enterprise: str | None
    plate: str | None
    device: str
    fuelling_point: int
    nozzle: int
    grade: int
    fen_per_l: int
    wanted_fen: int | None
    state: str
    preset_fen: int
    code: str
    reason: str
    offline: bool
    payment_no: str | None
    captured_fen: int | None
    captured_offline: bool
    release_told: bool
    asked_at: datetime
    closed_at: datetime | None

    @property
    def nozzle_key(self) -> str:
        return Nozzle(self.device, self.fuelling_point, self.nozzle).key

    @property
    def used_fen(self) -> int:
        """What it counts against the card's limits: the actual amount once captured, the preset until then."""
        if self.state == "captured":
            return self.captured_fen or 0
        return self.preset_fen if self.state == "reserved" else 0


def card_limits(card: ListedFleetCard) -> CardLimits:
    return CardLimits(card.card_no, card.enterprise, card.status, card.enterprise_status, card.plate, card.grades,
                      card.stations, card.hours, card.per_fill_fen, card.litres_per_fill, card.daily_fen,
                      card.weekly_fen, card.monthly_fen, card.fills_per_day, card.fills_per_week, card.fills_per_month)


def usage(held: list[Authorisation], day: datetime, week: datetime, month: datetime) -> Usage:
    """This station's reserved and captured authorisations of one card, counted per period."""
    def spent(since: datetime) -> tuple[int, int]:
        rows = [a for a in held if a.asked_at >= since and a.used_fen > 0]
        return sum(a.used_fen for a in rows), len(rows)
    (d, df), (w, wf), (m, mf) = spent(day), spent(week), spent(month)
    return Usage(d, w, m, df, wf, mf)


def offline_available(card: ListedFleetCard, held: list[Authorisation], listed_at: datetime, day: datetime) -> int:
    """What the card may still spend here offline: ``available_fen`` less what this station used since the list's
    change, and ``offline_limit_fen`` less what it used offline today; the least of the two."""
    since_listed = sum(a.used_fen for a in held if a.asked_at >= listed_at)
    offline_today = sum(a.used_fen for a in held if a.asked_at >= day and (a.offline or a.captured_offline))
    return min(card.available_fen - since_listed, card.offline_limit_fen - offline_today)
