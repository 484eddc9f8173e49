"""Which unit price a sale gets: one pure function, ``resolve``. docs/prices.md ("Which price a sale gets").

The special-price rules (``price_rules``) are of four kinds, each valid from ``valid_from`` to ``valid_to``
(exclusive), for some stations (None: all) and a grade (None: all):

- ``time_of_use`` (分时): periods of the station's day, each with its price. Where a period covers the sale's
  local time, **that price replaces the list price** (chargers and gas sell by tariff; it may be above or below
  the set's price). Two periods covering the same moment: the lower wins.
- ``member_level`` (会员等级价): for members of a level, a fixed price (``price_fen``) or an amount off the list
  price (``off_fen``).
- ``fleet_agreement`` (合同价): for one fleet, a fixed price or an amount off, while the agreement is valid.
- ``tier`` (阶梯价): an amount off per unit once the quantity reaches a step, counted in the sale alone
  (``basis: sale``) or in the customer's period including this sale (``basis: period``: the caller passes what
  was bought before in the period). The whole sale gets the step it reaches (no split across steps). Several
  tier rules: the largest reduction.

The rule that wins, in order:

1. **base** = the time-of-use price where one covers the moment, else the list price (the price set's).
2. candidates: the **public price** = base − tier; each matching **member-level price** − tier; each matching
   **fleet agreement price** (a contract price is net: no tier on top).
3. the sale gets the **lowest** candidate (customer prices never stack: a member in a fleet gets the better of
   the two, not both), **never above the base** and **never below 0**. Ties: fleet agreement, then member level,
   then the public price; then the lower rule id. The same inputs always give the same answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, cast

from business_services.prices.model import MAX_PRICE_FEN, STATION_ZONE, PriceError

Kind = Literal["member_level", "fleet_agreement", "time_of_use", "tier"]
KINDS: tuple[Kind, ...] = ("member_level", "fleet_agreement", "time_of_use", "tier")
Source = Literal["list", "time_of_use", "member_level", "fleet_agreement"]
_TIE_ORDER: dict[str, int] = {"fleet_agreement": 0, "member_level": 1, "time_of_use": 2, "list": 2}


@dataclass(frozen=True, slots=True)
class PriceRule:
    id: int
    kind: Kind
    params: Mapping[str, Any]                 # as ``check_rule`` returns them
    valid_from: datetime
    valid_to: datetime | None = None          # exclusive; None: open
    stations: frozenset[str] | None = None    # None: every station
    grade: str | None = None                  # None: every grade

    def applies(self, sale: Sale) -> bool:
        return (self.valid_from <= sale.at and (self.valid_to is None or sale.at < self.valid_to)
                and (self.stations is None or sale.station in self.stations)
                and (self.grade is None or self.grade == sale.grade))


@dataclass(frozen=True, slots=True)
class Sale:
    station: str
    grade: str
    at: datetime                               # when the sale (fuelling, charging session) started
    quantity: Decimal                          # L, kg or kWh of this sale
    member_level: str | None = None
    fleet: str | None = None
    period_quantity: Decimal = Decimal(0)      # bought before this sale in a tier rule's period


@dataclass(frozen=True, slots=True)
class Resolved:
    price_fen: int                 # what the sale is priced at, per unit
    list_price_fen: int            # the price set's price
    base_price_fen: int            # the list price, or the time-of-use price that replaced it
    source: Source                 # whose price won
    tier_off_fen: int = 0          # the tier reduction in the winning price
    rule_ids: tuple[int, ...] = ()  # the rules in the winning price (time of use, customer price, tier)


def _minutes(value: Any, where: str) -> int:
    try:
        hours, minutes = str(value).split(":")
        h, m = int(hours), int(minutes)
    except ValueError:
        raise PriceError(where, f"时间格式应为 HH:MM (a time is HH:MM), 收到 {value!r}") from None
    if not (0 <= h <= 24 and 0 <= m < 60 and h * 60 + m <= 24 * 60):
        raise PriceError(where, f"时间应在 00:00–24:00 之间 (a time is 00:00–24:00), 收到 {value!r}")
    return h * 60 + m


def _fen(value: Any, where: str, low: int = 0) -> int:
    if type(value) is not int or not low <= value <= MAX_PRICE_FEN:
        raise PriceError(where, f"应为 {low}–{MAX_PRICE_FEN} 分的整数 "
                                f"(an integer number of fen, {low}–{MAX_PRICE_FEN})")
    return value


def _price_or_off(params: Mapping[str, Any], where: str) -> dict[str, int]:
    if ("price_fen" in params) == ("off_fen" in params):
        raise PriceError(where, "请给出 price_fen（固定价）或 off_fen（直降）之一 "
                                "(give one of price_fen or off_fen)")
    if "price_fen" in params:
        return {"price_fen": _fen(params["price_fen"], f"{where}.price_fen", 1)}
    return {"off_fen": _fen(params["off_fen"], f"{where}.off_fen", 1)}


def check_rule(kind: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """A rule's parameters checked and normalised; ``PriceError`` naming the field otherwise."""
    if kind == "member_level":
        level = params.get("level")
        if not isinstance(level, str) or not 1 <= len(level) <= 32:
            raise PriceError("params.level", "请给出会员等级 (give the member level, e.g. gold)")
        return {"level": level, **_price_or_off(params, "params")}
    if kind == "fleet_agreement":
        fleet = params.get("fleet")
        if not isinstance(fleet, str) or not 1 <= len(fleet) <= 64:
            raise PriceError("params.fleet", "请给出车队编号 (give the fleet's code)")
        return {"fleet": fleet, **_price_or_off(params, "params")}
    if kind == "time_of_use":
        periods = params.get("periods")
        if not isinstance(periods, list) or not 1 <= len(periods) <= 24:
            raise PriceError("params.periods", "请给出 1–24 个时段 (give 1–24 periods: from, to, price_fen)")
        checked = []
        for i, p in enumerate(periods):
            if not isinstance(p, Mapping):
                raise PriceError(f"params.periods[{i}]", "时段应为 {from, to, price_fen} "
                                                         "(a period is {from, to, price_fen})")
            start = _minutes(p.get("from"), f"params.periods[{i}].from")
            end = _minutes(p.get("to"), f"params.periods[{i}].to")
            if start == end:
                raise PriceError(f"params.periods[{i}]", "时段的开始与结束不能相同 (a period's from and to differ)")
            checked.append({"from": p["from"], "to": p["to"], "price_fen": _fen(p.get("price_fen"),
                                                                               f"params.periods[{i}].price_fen", 1)})
        return {"periods": checked}
    if kind == "tier":
        basis = params.get("basis")
        if basis not in ("sale", "period"):
            raise PriceError("params.basis", "阶梯依据应为 sale（单笔）或 period（周期累计） (basis is sale or period)")
        tiers = params.get("tiers")
        if not isinstance(tiers, list) or not 1 <= len(tiers) <= 10:
            raise PriceError("params.tiers", "请给出 1–10 个阶梯 (give 1–10 tiers: from, off_fen)")
        checked = []
        for i, t in enumerate(tiers):
            try:
                low = Decimal(str(t["from"]))
            except (KeyError, TypeError, InvalidOperation):
                raise PriceError(f"params.tiers[{i}].from", "阶梯起点应为数量 (a tier starts at a quantity)") from None
            if not low.is_finite() or low < 0:
                raise PriceError(f"params.tiers[{i}].from", "阶梯起点不能为负 (a tier starts at 0 or more)")
            checked.append({"from": str(low), "off_fen": _fen(t.get("off_fen"), f"params.tiers[{i}].off_fen", 1)})
        period = params.get("period", "month")
        if basis == "period" and period not in ("day", "month"):
            raise PriceError("params.period", "累计周期应为 day 或 month (period is day or month)")
        return {"basis": basis, "tiers": checked, **({"period": period} if basis == "period" else {})}
    raise PriceError("kind", f"未知的规则类型 {kind} (kind is one of {', '.join(KINDS)})")


def _covers(period: Mapping[str, Any], local: time) -> bool:
    start, end = _minutes(period["from"], "from"), _minutes(period["to"], "to")
    now = local.hour * 60 + local.minute
    return start <= now < end if start < end else (now >= start or now < end)   # a period past midnight


def _customer_price(params: Mapping[str, Any], base: int) -> int:
    return int(params["price_fen"]) if "price_fen" in params else base - int(params["off_fen"])


def _tier_off(rule: PriceRule, sale: Sale) -> int:
    counted = sale.quantity + (sale.period_quantity if rule.params["basis"] == "period" else 0)
    reached = [int(t["off_fen"]) for t in rule.params["tiers"] if counted >= Decimal(t["from"])]
    return max(reached, default=0)


def resolve(list_price_fen: int, sale: Sale, rules: Iterable[PriceRule]) -> Resolved:
    """The unit price of ``sale`` given the price set's ``list_price_fen`` and the company's rules (those that do
    not apply to the sale are ignored). The rule that wins is the module's docstring."""
    applying = sorted((r for r in rules if r.applies(sale)), key=lambda r: r.id)
    local = sale.at.astimezone(STATION_ZONE).time()
    tou = [(int(p["price_fen"]), r.id) for r in applying if r.kind == "time_of_use"
           for p in r.params["periods"] if _covers(p, local)]
    base, base_source, base_rules = list_price_fen, "list", cast(tuple[int, ...], ())
    if tou:
        price, rule_id = min(tou)
        base, base_source, base_rules = price, "time_of_use", (rule_id,)
    tiers = [(_tier_off(r, sale), r.id) for r in applying if r.kind == "tier"]
    tier_off, tier_rule = max(((off, -rid) for off, rid in tiers), default=(0, 0))
    tier_ids: tuple[int, ...] = (-tier_rule,) if tier_off else ()

    def clamp(price: int) -> int:
        return max(0, min(base, price))

    candidates: list[tuple[int, int, int, Source, int, tuple[int, ...]]] = [
        (clamp(base - tier_off), _TIE_ORDER[base_source], 0, base_source,  # type: ignore[list-item]
         min(tier_off, base), base_rules + tier_ids)]
    for r in applying:
        if r.kind == "member_level" and sale.member_level is not None and r.params["level"] == sale.member_level:
            price = clamp(_customer_price(r.params, base) - tier_off)
            candidates.append((price, _TIE_ORDER["member_level"], r.id, "member_level",
                               tier_off if tier_off else 0, (*base_rules, r.id, *tier_ids)))
        elif r.kind == "fleet_agreement" and sale.fleet is not None and r.params["fleet"] == sale.fleet:
            candidates.append((clamp(_customer_price(r.params, base)), _TIE_ORDER["fleet_agreement"], r.id,
                               "fleet_agreement", 0, (*base_rules, r.id)))
    price, _, _, source, off, ids = min(candidates)
    return Resolved(price, list_price_fen, base, source, off, ids)
