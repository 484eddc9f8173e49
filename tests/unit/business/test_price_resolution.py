"""Which price a sale gets (business_services/prices/resolution.py): every combination of the four kinds of special
price as a table, the conflicts, the parameter checks, and the invariants under hypothesis (never above the base
price, never negative, the same answer for the same inputs in any order of rules)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from business_services.prices.model import PriceError
from business_services.prices.resolution import PriceRule, Resolved, Sale, check_rule, resolve

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DAY = datetime.fromisoformat("2026-12-04T12:00:00+08:00")
NIGHT = datetime.fromisoformat("2026-12-04T23:00:00+08:00")
LIST = 800


def rule(rule_id: int, kind: Any, params: dict[str, Any], **extra: Any) -> PriceRule:
    return PriceRule(rule_id, kind, check_rule(kind, params), extra.pop("valid_from", T0), **extra)


TOU = rule(1, "time_of_use", {"periods": [{"from": "22:00", "to": "06:00", "price_fen": 700}]}, grade="92")
GOLD = rule(2, "member_level", {"level": "gold", "off_fen": 30})
FLEET = rule(3, "fleet_agreement", {"fleet": "F1", "price_fen": 760}, stations=frozenset({"demo-01"}))
TIER = rule(4, "tier", {"basis": "sale", "tiers": [{"from": 100, "off_fen": 20}]})
RULES = [TOU, GOLD, FLEET, TIER]


def sale(at: datetime = DAY, quantity: str = "30", member: str | None = None, fleet: str | None = None,
         period: str = "0", grade: str = "92", station: str = "demo-01") -> Sale:
    return Sale(station, grade, at, Decimal(quantity), member, fleet, Decimal(period))


# member, fleet, time of use, tier reached → (price, source, tier off)   list 800, night 700, gold −30,
# fleet F1 760 (a contract price: no tier on top), tier −20 from 100 L
EVERY_COMBINATION = [
    (False, False, False, False, 800, "list", 0),
    (False, False, False, True, 780, "list", 20),
    (False, False, True, False, 700, "time_of_use", 0),
    (False, False, True, True, 680, "time_of_use", 20),
    (True, False, False, False, 770, "member_level", 0),
    (True, False, False, True, 750, "member_level", 20),
    (True, False, True, False, 670, "member_level", 0),
    (True, False, True, True, 650, "member_level", 20),
    (False, True, False, False, 760, "fleet_agreement", 0),
    (False, True, False, True, 760, "fleet_agreement", 0),       # 760 beats the public 780
    (False, True, True, False, 700, "fleet_agreement", 0),       # 760 capped at the base 700; a tie goes to the fleet
    (False, True, True, True, 680, "time_of_use", 20),           # the public night price with its tier is lower
    (True, True, False, False, 760, "fleet_agreement", 0),       # the better of member 770 and fleet 760, not both
    (True, True, False, True, 750, "member_level", 20),
    (True, True, True, False, 670, "member_level", 0),
    (True, True, True, True, 650, "member_level", 20),
]


@pytest.mark.parametrize(("member", "fleet", "night", "tier", "price", "source", "off"), EVERY_COMBINATION)
def test_every_combination(member: bool, fleet: bool, night: bool, tier: bool, price: int, source: str,
                           off: int) -> None:
    got = resolve(LIST, sale(NIGHT if night else DAY, "120" if tier else "30", "gold" if member else None,
                             "F1" if fleet else None), RULES)
    assert (got.price_fen, got.source, got.tier_off_fen) == (price, source, off)
    assert got.list_price_fen == LIST and got.base_price_fen == (700 if night else 800)


CONFLICTS: list[tuple[str, list[PriceRule], Sale, int, str, tuple[int, ...]]] = [
    ("two time-of-use periods cover the moment: the lower",
     [TOU, rule(9, "time_of_use", {"periods": [{"from": "20:00", "to": "24:00", "price_fen": 650}]})],
     sale(NIGHT), 650, "time_of_use", (9,)),
    ("two member prices for one level: the lower",
     [GOLD, rule(7, "member_level", {"level": "gold", "price_fen": 740})], sale(member="gold"), 740, "member_level",
     (7,)),
    ("an amount off larger than the price: 0, never negative",
     [rule(5, "member_level", {"level": "gold", "off_fen": 900})], sale(member="gold"), 0, "member_level", (5,)),
    ("a contract price above the list price: never above the list",
     [rule(6, "fleet_agreement", {"fleet": "F1", "price_fen": 900})], sale(fleet="F1"), 800, "fleet_agreement", (6,)),
    ("an agreement no longer valid is ignored",
     [rule(6, "fleet_agreement", {"fleet": "F1", "price_fen": 700}, valid_to=DAY - timedelta(seconds=1))],
     sale(fleet="F1"), 800, "list", ()),
    ("an agreement not yet valid is ignored",
     [rule(6, "fleet_agreement", {"fleet": "F1", "price_fen": 700}, valid_from=DAY + timedelta(days=1))],
     sale(fleet="F1"), 800, "list", ()),
    ("a rule of another station is ignored", [FLEET], sale(fleet="F1", station="demo-02"), 800, "list", ()),
    ("a rule of another grade is ignored", [TOU], sale(NIGHT, grade="95"), 800, "list", ()),
    ("another level or fleet is ignored", [GOLD, FLEET], sale(member="silver", fleet="F2"), 800, "list", ()),
    ("a period tier counts what was bought before",
     [rule(8, "tier", {"basis": "period", "period": "month", "tiers": [{"from": "1000", "off_fen": 15}]})],
     sale(quantity="20", period="990"), 785, "list", (8,)),
    ("a sale tier ignores the period", [TIER], sale(quantity="20", period="990"), 800, "list", ()),
    ("two tier rules: the larger reduction",
     [TIER, rule(11, "tier", {"basis": "sale", "tiers": [{"from": 50, "off_fen": 5}, {"from": 100, "off_fen": 25}]})],
     sale(quantity="120"), 775, "list", (11,)),
    ("a tie between a member and a fleet price goes to the fleet",
     [rule(2, "member_level", {"level": "gold", "price_fen": 760}), FLEET], sale(member="gold", fleet="F1"), 760,
     "fleet_agreement", (3,)),
    ("a night period past midnight covers 05:59", [TOU], sale(datetime.fromisoformat("2026-12-05T05:59:00+08:00")),
     700, "time_of_use", (1,)),
    ("… and ends at 06:00", [TOU], sale(datetime.fromisoformat("2026-12-05T06:00:00+08:00")), 800, "list", ()),
    ("the station's time, not UTC (15:00 UTC is 23:00 in China)", [TOU],
     sale(datetime(2026, 12, 4, 15, 0, tzinfo=UTC)), 700, "time_of_use", (1,)),
]


@pytest.mark.parametrize(("name", "rules", "the_sale", "price", "source", "ids"), CONFLICTS,
                         ids=[c[0] for c in CONFLICTS])
def test_conflicts(name: str, rules: list[PriceRule], the_sale: Sale, price: int, source: str,
                   ids: tuple[int, ...]) -> None:
    got = resolve(LIST, the_sale, rules)
    assert (got.price_fen, got.source, got.rule_ids) == (price, source, ids), name


@pytest.mark.parametrize(("kind", "params", "field"), [
    ("member_level", {"off_fen": 10}, "params.level"),
    ("member_level", {"level": "gold"}, "params"),
    ("member_level", {"level": "gold", "off_fen": 10, "price_fen": 700}, "params"),
    ("fleet_agreement", {"fleet": "F1", "price_fen": 0}, "params.price_fen"),
    ("fleet_agreement", {"fleet": "F1", "price_fen": 7.5}, "params.price_fen"),
    ("time_of_use", {"periods": []}, "params.periods"),
    ("time_of_use", {"periods": [{"from": "25:00", "to": "06:00", "price_fen": 700}]}, "params.periods[0].from"),
    ("time_of_use", {"periods": [{"from": "06:00", "to": "06:00", "price_fen": 700}]}, "params.periods[0]"),
    ("tier", {"basis": "week", "tiers": []}, "params.basis"),
    ("tier", {"basis": "sale", "tiers": [{"from": -1, "off_fen": 5}]}, "params.tiers[0].from"),
    ("tier", {"basis": "period", "period": "year", "tiers": [{"from": 1, "off_fen": 5}]}, "params.period"),
    ("coupon", {}, "kind"),
])
def test_bad_parameters_name_the_field(kind: str, params: dict[str, Any], field: str) -> None:
    with pytest.raises(PriceError) as refused:
        check_rule(kind, params)
    assert refused.value.field == field


# --- invariants ----------------------------------------------------------------------------------------------

fen = st.integers(min_value=1, max_value=10_000)
clock = st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.integers(0, 59))


def _customer(key: str, name: str, price: int, off: int | None) -> dict[str, Any]:
    return {key: name, **({"price_fen": price} if off is None else {"off_fen": off})}


params_by_kind = {
    "member_level": st.builds(lambda lv, p, off: _customer("level", lv, p, off),
                              st.sampled_from(["gold", "silver"]), fen, st.none() | fen),
    "fleet_agreement": st.builds(lambda f, p, off: _customer("fleet", f, p, off),
                                 st.sampled_from(["F1", "F2"]), fen, st.none() | fen),
    "time_of_use": st.builds(lambda a, b, p: {"periods": [{"from": a, "to": b, "price_fen": p}]}, clock, clock, fen)
    .filter(lambda p: p["periods"][0]["from"] != p["periods"][0]["to"]),
    "tier": st.builds(lambda basis, steps: {"basis": basis, "tiers": [{"from": q, "off_fen": o} for q, o in steps]},
                      st.sampled_from(["sale", "period"]),
                      st.lists(st.tuples(st.integers(0, 500), fen), min_size=1, max_size=3)),
}
rules_strategy = st.lists(
    st.sampled_from(sorted(params_by_kind)).flatmap(lambda kind: st.tuples(st.just(kind), params_by_kind[kind])),
    max_size=6).map(lambda made: [rule(i + 1, kind, params) for i, (kind, params) in enumerate(made)])
sales = st.builds(
    lambda minutes, q, member, fleet, before: sale(DAY + timedelta(minutes=minutes), str(q), member, fleet,
                                                   str(before)),
    st.integers(0, 24 * 60), st.decimals(min_value=0, max_value=300, places=2),
    st.sampled_from([None, "gold", "silver"]), st.sampled_from([None, "F1", "F2"]), st.integers(0, 2000))


@settings(max_examples=300, deadline=None)
@given(fen, sales, rules_strategy, st.randoms())
def test_never_above_the_base_never_negative_and_the_same_in_any_order(list_price: int, the_sale: Sale,
                                                                       rules: list[PriceRule],
                                                                       shuffle: random.Random) -> None:
    got = resolve(list_price, the_sale, rules)
    assert 0 <= got.price_fen <= got.base_price_fen
    if not any(r.kind == "time_of_use" for r in rules):
        assert got.base_price_fen == list_price and got.price_fen <= list_price     # never above the list price
    shuffled = list(rules)
    shuffle.shuffle(shuffled)
    assert resolve(list_price, the_sale, shuffled) == got == resolve(list_price, the_sale, rules)
    assert isinstance(got, Resolved) and set(got.rule_ids) <= {r.id for r in rules}


@settings(max_examples=200, deadline=None)
@given(fen, sales, rules_strategy)
def test_a_customer_price_never_costs_the_customer_more(list_price: int, the_sale: Sale,
                                                        rules: list[PriceRule]) -> None:
    """Being a member or in a fleet never makes a sale dearer than the same sale without either."""
    anonymous = Sale(the_sale.station, the_sale.grade, the_sale.at, the_sale.quantity, None, None,
                     the_sale.period_quantity)
    assert resolve(list_price, the_sale, rules).price_fen <= resolve(list_price, anonymous, rules).price_fen
