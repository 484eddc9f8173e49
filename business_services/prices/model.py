"""Prices at head office: the pure rules (no I/O). docs/prices.md.

- A **change** (调价单) names stations, new prices per grade and per nozzle (单枪调价), when it takes effect (at
  once or at a time) and why. It becomes **lines**: one per station and grade, and one per nozzle with a price
  of its own, each with the old price and the new.
- **Limits** (per company, ``Policy``): one change may move a price at most ``step_fen`` fen and ``step_pct`` %;
  a grade at a station may move at most ``day_fen`` fen in a day (the station's day, the sum of every move's
  size, so down-and-up counts twice). A change over either needs a second person's approval (``price.change``).
- A **price set** is one station's prices at one version: a price per grade, and each nozzle's price resolved
  from the station's nozzles (its grade's price, or its own). Versions are made when a change is sent, in the
  order they are sent, so a newer version is always the newer decision.
- A set's **state** at its station: ``applying`` (sent, not every nozzle confirmed), ``partly_applied`` (a
  nozzle refused it), ``in_force`` (every nozzle reported ``applied``); a change not yet sent is ``scheduled``.

Errors are ``PriceError`` with the field to correct and a message in Chinese first, then English.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal
from zoneinfo import ZoneInfo

from business_services.stations.model import GRADES

STATION_ZONE = ZoneInfo("Asia/Shanghai")
MIN_PRICE_FEN, MAX_PRICE_FEN = 1, 10_000       # as telemetry/contracts/prices.py's UnitPrice
MAX_REASON = 200
ChangeState = Literal["awaiting_approval", "scheduled", "sent", "rejected", "cancelled"]
SetState = Literal["in_force", "applying", "partly_applied", "scheduled", "none"]
NozzleState = Literal["applied", "refused", "pending"]
CHANGE_STATES: tuple[ChangeState, ...] = ("awaiting_approval", "scheduled", "sent", "rejected", "cancelled")


class PriceError(ValueError):
    """A request that breaks a rule; ``field`` names what to correct."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class NotFound(LookupError):
    """The change, set or rule a request names does not exist (or is outside the caller's stations)."""


class Conflict(ValueError):
    """The change is in a state that does not allow this (a sent change cannot be cancelled)."""


# --- the company's limits ----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Policy:
    step_fen: int = 50             # one change moves a price at most 0.50 元 …
    step_pct: Decimal = Decimal(5)  # … and at most 5 %
    day_fen: int = 100             # a grade at a station moves at most 1.00 元 in a day, all changes together


DEFAULT_POLICY = Policy()


def check_policy(step_fen: int, step_pct: Decimal, day_fen: int) -> Policy:
    if not 1 <= step_fen <= MAX_PRICE_FEN:
        raise PriceError("step_fen", "单次调价上限应在 1–10000 分之间 (step_fen is 1–10000 fen)")
    if not Decimal("0.01") <= step_pct <= 100:
        raise PriceError("step_pct", "单次调价百分比上限应在 0.01–100 之间 (step_pct is 0.01–100 %)")
    if not 1 <= day_fen <= MAX_PRICE_FEN:
        raise PriceError("day_fen", "每日累计调价上限应在 1–10000 分之间 (day_fen is 1–10000 fen)")
    return Policy(step_fen, step_pct.quantize(Decimal("0.01")), day_fen)


# --- what a change asks ---------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class NozzleKey:
    device: str
    fuelling_point: int
    nozzle: int


@dataclass(frozen=True, slots=True)
class StationNozzle:
    """A nozzle of the station's master data with the grade it sells."""

    device: str
    fuelling_point: int
    nozzle: int
    grade: str

    @property
    def key(self) -> NozzleKey:
        return NozzleKey(self.device, self.fuelling_point, self.nozzle)


@dataclass(frozen=True, slots=True)
class NozzleRequest:
    station: str
    device: str
    fuelling_point: int
    nozzle: int
    price_fen: int


@dataclass(frozen=True, slots=True)
class CurrentPrices:
    """A station as a change sees it: its newest set's prices (empty: none yet) and its nozzles."""

    grades: Mapping[str, int]                       # grade → price in the newest set
    nozzles: tuple[StationNozzle, ...]              # from master data (nozzles with a grade)
    nozzle_prices: Mapping[NozzleKey, int] = field(default_factory=dict)   # each nozzle's price in the newest set

    def sells(self, grade: str) -> bool:
        return grade in self.grades or any(n.grade == grade for n in self.nozzles)

    @property
    def has_set(self) -> bool:
        """Whether the station has had a price set (a set always prices at least one grade)."""
        return bool(self.grades)

    @property
    def grades_sold(self) -> list[str]:
        """The grades its nozzles sell (master data), sorted."""
        return sorted({n.grade for n in self.nozzles})


@dataclass(frozen=True, slots=True)
class Line:
    station: str
    grade: str
    old_price_fen: int | None
    new_price_fen: int
    device: str | None = None
    fuelling_point: int | None = None
    nozzle: int | None = None
    over_step: bool = False
    over_day: bool = False

    @property
    def delta_fen(self) -> int:
        return 0 if self.old_price_fen is None else self.new_price_fen - self.old_price_fen

    @property
    def delta_pct(self) -> float:
        if not self.old_price_fen:
            return 0.0
        pct = Decimal(self.delta_fen * 100) / Decimal(self.old_price_fen)
        return float(pct.quantize(Decimal("0.01"), ROUND_HALF_UP))


def check_price(value: int, where: str) -> int:
    if not MIN_PRICE_FEN <= value <= MAX_PRICE_FEN:
        raise PriceError(where, f"单价应在 0.01–100.00 元之间 (a price is {MIN_PRICE_FEN}–{MAX_PRICE_FEN} fen), "
                                f"收到 {value}")
    return value


def check_reason(reason: str) -> str:
    reason = reason.strip()
    if not reason:
        raise PriceError("reason", "请填写调价原因 (give the reason for the change)")
    if len(reason) > MAX_REASON:
        raise PriceError("reason", f"调价原因最多 {MAX_REASON} 字 (the reason is at most {MAX_REASON} characters)")
    return reason


def plan_lines(stations: Iterable[str], grades: Mapping[str, int], nozzles: Iterable[NozzleRequest],
               current: Mapping[str, CurrentPrices]) -> list[Line]:
    """The lines of a change: each named grade at each named station that sells it, and each named nozzle; a
    line whose price would not move is left out. Raises ``PriceError`` when a grade is sold at none of the
    stations, a nozzle is not one of its station's, or nothing would change."""
    wanted = list(dict.fromkeys(stations))
    if not wanted:
        raise PriceError("stations", "请选择至少一个站点 (choose at least one station)")
    lines: list[Line] = []
    for grade, price in grades.items():
        check_price(price, f"grades.{grade}")
        selling = [s for s in wanted if current[s].sells(grade)]
        if not selling:
            raise PriceError(f"grades.{grade}", f"所选站点都不销售 {grade} (none of the stations sells grade {grade})")
        for station in selling:
            old = current[station].grades.get(grade)
            if old != price:
                lines.append(Line(station, grade, old, price))
    seen: set[tuple[str, NozzleKey]] = set()
    for i, n in enumerate(nozzles):
        check_price(n.price_fen, f"nozzles[{i}].price_fen")
        key = NozzleKey(n.device, n.fuelling_point, n.nozzle)
        if n.station not in current:
            raise PriceError(f"nozzles[{i}].station", f"站点 {n.station} 不在本次调价的站点中 "
                                                      f"(station {n.station} is not among the change's stations)")
        if (n.station, key) in seen:
            raise PriceError(f"nozzles[{i}]", "同一油枪只能出现一次 (a nozzle appears once in a change)")
        seen.add((n.station, key))
        found = next((s for s in current[n.station].nozzles if s.key == key), None)
        if found is None:
            raise PriceError(f"nozzles[{i}]", f"站点 {n.station} 没有油枪 {n.device}/{n.fuelling_point}/{n.nozzle} "
                                              f"(no such nozzle with a grade at station {n.station})")
        old = current[n.station].nozzle_prices.get(key, current[n.station].grades.get(found.grade))
        if old != n.price_fen:
            lines.append(Line(n.station, found.grade, old, n.price_fen, n.device, n.fuelling_point, n.nozzle))
    if not lines:
        raise PriceError("grades", "新价格与现行价格相同，没有要调整的 "
                                   "(every price is already as asked: nothing changes)")
    return lines


def expand_units(units: Sequence[str], tree: Mapping[str, Sequence[str]], scope: frozenset[str] | None
                 ) -> list[str]:
    """The stations a change's organisation units name (``tree``: unit code → the station codes under it), only
    those in the caller's ``scope`` (None: every station), in order, each once. Raises ``PriceError`` for a unit
    that does not exist or has no station in the scope."""
    found: list[str] = []
    for i, unit in enumerate(units):
        if unit not in tree:
            raise PriceError(f"units[{i}]", f"没有组织单位 {unit} (no organisation unit {unit}; choose a region)")
        mine = [s for s in tree[unit] if scope is None or s in scope]
        if not mine:
            raise PriceError(f"units[{i}]", f"{unit} 下没有您范围内的站点 (no station under {unit} is in your "
                                            "scope; choose another region or stations)")
        found.extend(s for s in mine if s not in found)
    return found


def first_sets(named: Iterable[str], from_units: Iterable[str], grades: Mapping[str, int],
               current: Mapping[str, CurrentPrices]) -> tuple[list[str], list[str]]:
    """Which stations a change keeps, and what the preview says about stations without prices yet (a first set).

    A station named on its own that has no set yet gets its first prices from the change: the change must price
    every grade its nozzles sell (there is no old price, so the limits do not apply: said in the notes). A
    station reached only through a region that has no set yet is left out (noted): its first prices are set on
    their own. Raises ``PriceError`` naming the grades a first set is missing."""
    kept: list[str] = []
    notes: list[str] = []
    named = list(dict.fromkeys(named))
    for station in [*named, *(s for s in dict.fromkeys(from_units) if s not in named)]:
        prices = current[station]
        if prices.has_set:
            kept.append(station)
        elif station not in named:
            notes.append(f"{station} 还没有价格，未纳入按区域的调价；请单独选择该站点为其首次定价 (no prices yet: "
                         "left out of the region's change; choose the station on its own to set its first prices)")
        else:
            missing = [g for g in prices.grades_sold if g not in grades]
            if missing:
                raise PriceError("grades", f"站点 {station} 还没有价格：首次定价须为其全部油品定价，缺 "
                                           f"{'、'.join(missing)} (a station's first prices name every grade it "
                                           f"sells; missing {', '.join(missing)})")
            kept.append(station)
            notes.append(f"{station} 首次定价：没有原价，调价限额不适用 (a first set: there is no old price, the "
                         "limits do not apply)")
    return kept, notes


def business_day(at: datetime) -> date:
    return at.astimezone(STATION_ZONE).date()


def check_limits(lines: list[Line], policy: Policy, moved_today: Mapping[tuple[str, str], int]
                 ) -> tuple[list[Line], list[str]]:
    """Mark each line over the step or the day's limit; ``moved_today``: (station, grade) → fen already moved
    that day by other changes (their sizes summed). Returns the marked lines and why approval is needed (empty:
    within the limits)."""
    why: list[str] = []
    moved: dict[tuple[str, str], int] = dict(moved_today)
    marked = []
    for line in lines:
        size = abs(line.delta_fen)
        over_step = line.old_price_fen is not None and (
            size > policy.step_fen or Decimal(size * 100) > policy.step_pct * line.old_price_fen)
        key = (line.station, line.grade)
        moved[key] = moved.get(key, 0) + size
        over_day = moved[key] > policy.day_fen
        where = f"{line.station} {line.grade}" + (f" {line.device}/{line.fuelling_point}/{line.nozzle}"
                                                  if line.device else "")
        if over_step:
            why.append(f"{where}: 调价 {line.delta_fen:+d} 分 ({line.delta_pct:+.2f}%) 超过单次上限 "
                       f"{policy.step_fen} 分或 {policy.step_pct}% (over the step limit)")
        if over_day:
            why.append(f"{where}: 当日累计调价 {moved[key]} 分超过每日上限 {policy.day_fen} 分 (over the day's limit)")
        marked.append(Line(line.station, line.grade, line.old_price_fen, line.new_price_fen, line.device,
                           line.fuelling_point, line.nozzle, over_step, over_day))
    return marked, why


# --- a station's next set ---------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class SetNozzle:
    device: str
    fuelling_point: int
    nozzle: int
    grade: str
    price_fen: int
    own_price: bool


def unit_of(grade: str) -> Literal["L", "kg", "kWh"]:
    found = GRADES.get(grade)
    return found.unit if found is not None else "L"


def next_set(previous_grades: Mapping[str, int], previous_nozzles: Mapping[NozzleKey, SetNozzle],
             nozzles: Iterable[StationNozzle], lines: Iterable[Line]) -> tuple[dict[str, int], list[SetNozzle]]:
    """A station's next set from its previous one and a change's lines for it.

    Grades: the previous prices with the change's grade lines applied. Each nozzle: its own line's price if the
    change has one; else its grade's new price if the change moved its grade (a grade change ends the nozzles'
    own prices of that grade); else its own price from before if it had one and still sells that grade; else
    its grade's price. A nozzle whose grade has no price yet is left out (it cannot be priced)."""
    grades = dict(previous_grades)
    own: dict[NozzleKey, int] = {}
    moved: set[str] = set()
    for line in lines:
        if line.device is None:
            grades[line.grade] = line.new_price_fen
            moved.add(line.grade)
        else:
            own[NozzleKey(line.device, line.fuelling_point or 0, line.nozzle or 0)] = line.new_price_fen
    priced: list[SetNozzle] = []
    for n in sorted(nozzles, key=lambda n: (n.device, n.fuelling_point, n.nozzle)):
        before = previous_nozzles.get(n.key)
        if n.key in own:
            priced.append(SetNozzle(n.device, n.fuelling_point, n.nozzle, n.grade, own[n.key], True))
        elif n.grade not in moved and before is not None and before.own_price and before.grade == n.grade:
            priced.append(before)
        elif n.grade in grades:
            priced.append(SetNozzle(n.device, n.fuelling_point, n.nozzle, n.grade, grades[n.grade], False))
    return grades, priced


# --- states --------------------------------------------------------------------------------------------

def set_state(nozzle_states: Iterable[str], in_force_at: datetime | None) -> SetState:
    """A sent set's state from its nozzles' newest reports: in force once every nozzle applied it (and from then
    on), partly applied while any nozzle refused it, else applying."""
    states = list(nozzle_states)
    if in_force_at is not None:
        return "in_force"
    if "refused" in states:
        return "partly_applied"
    return "applying"


def all_applied(nozzle_states: Iterable[str]) -> bool:
    return all(s == "applied" for s in nozzle_states)


_RANK = {"pending": 0, "refused": 1, "applied": 2}


def newer_report(state: str, attempt: int, at: datetime, than_state: str, than_attempt: int,
                 than_at: datetime | None) -> bool:
    """Whether a nozzle's report replaces the one held: a later attempt, or the same attempt later in time, or
    the same moment with a further state (pending < refused < applied). Reordered deliveries change nothing."""
    if than_at is None:
        return True
    return (attempt, at, _RANK[state]) > (than_attempt, than_at, _RANK[than_state])


def change_number(at: datetime, seq: int) -> str:
    return f"PC-{at.astimezone(STATION_ZONE):%Y%m%d}-{seq:05d}"


def summary(lines: Iterable[Line]) -> str:
    """One line for the inbox and the calendar, e.g. ``demo-01 92 7.89→8.36; …``."""
    parts = []
    for line in lines:
        old = "—" if line.old_price_fen is None else f"{line.old_price_fen / 100:.2f}"
        where = f"{line.station} {line.grade}" + (f" {line.device}/{line.fuelling_point}/{line.nozzle}"
                                                  if line.device else "")
        parts.append(f"{where} {old}→{line.new_price_fen / 100:.2f}")
    text = "; ".join(parts[:4]) + (f" 等 {len(parts)} 项" if len(parts) > 4 else "")
    return f"调价 {text}"
