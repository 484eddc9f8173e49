"""The pure rules of prices at head office (business_services/prices/model.py): a change's lines, the limits (step
in fen and %, the day's total per grade and station), the next set with nozzles' own prices, report ordering and
the states of a set."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from business_services.prices.model import (
    DEFAULT_POLICY,
    CurrentPrices,
    Line,
    NozzleKey,
    NozzleRequest,
    Policy,
    PriceError,
    SetNozzle,
    StationNozzle,
    business_day,
    check_limits,
    check_policy,
    check_reason,
    expand_units,
    first_sets,
    newer_report,
    next_set,
    plan_lines,
    set_state,
    summary,
)

NOZZLES = (StationNozzle("disp-01", 1, 1, "92"), StationNozzle("disp-01", 1, 2, "95"),
           StationNozzle("disp-01", 2, 1, "92"), StationNozzle("disp-01", 2, 2, "95"))
DEMO = CurrentPrices({"92": 789, "95": 836}, NOZZLES)
DIESEL = CurrentPrices({"0": 720}, (StationNozzle("disp-01", 1, 1, "0"),))


def test_lines_per_station_and_grade_only_where_sold_and_moved() -> None:
    lines = plan_lines(["demo-01", "d-02"], {"92": 799, "95": 836, "0": 730}, [], {"demo-01": DEMO, "d-02": DIESEL})
    assert lines == [Line("demo-01", "92", 789, 799), Line("d-02", "0", 720, 730)]   # 95 does not move


def test_a_nozzle_line_takes_its_grade_and_its_old_price() -> None:
    lines = plan_lines(["demo-01"], {}, [NozzleRequest("demo-01", "disp-01", 2, 1, 780)], {"demo-01": DEMO})
    assert lines == [Line("demo-01", "92", 789, 780, "disp-01", 2, 1)]


@pytest.mark.parametrize(("stations", "grades", "nozzles", "field"), [
    ([], {"92": 799}, [], "stations"),
    (["demo-01"], {"98": 899}, [], "grades.98"),                                  # nobody sells 98
    (["demo-01"], {"92": 0}, [], "grades.92"),
    (["demo-01"], {"92": 10_001}, [], "grades.92"),
    (["demo-01"], {"92": 789}, [], "grades"),                                     # nothing changes
    (["demo-01"], {}, [NozzleRequest("demo-01", "disp-01", 3, 1, 700)], "nozzles[0]"),     # no such nozzle
    (["demo-01"], {}, [NozzleRequest("d-02", "disp-01", 1, 1, 700)], "nozzles[0].station"),
    (["demo-01"], {}, [NozzleRequest("demo-01", "disp-01", 1, 1, 700)] * 2, "nozzles[1]"),
])
def test_bad_changes_name_the_field(stations: list[str], grades: dict[str, int], nozzles: list[NozzleRequest],
                                    field: str) -> None:
    with pytest.raises(PriceError) as refused:
        plan_lines(stations, grades, nozzles, {"demo-01": DEMO})
    assert refused.value.field == field


@pytest.mark.parametrize(("old", "new", "moved", "over_step", "over_day"), [
    (789, 828, 0, False, False),    # +39 fen = 4.94 %: within 50 fen and 5 %
    (789, 829, 0, True, False),     # +40 fen = 5.07 %: over 5 %
    (1200, 1250, 0, False, False),  # +50 fen = 4.17 %
    (1200, 1251, 0, True, False),   # +51 fen: over 50 fen
    (789, 759, 0, False, False),    # down counts the same
    (789, 749, 0, True, False),     # −40 fen = −5.07 %
    (789, 819, 70, False, False),   # 70 + 30 = 100: the day's limit reached, not passed
    (789, 820, 70, False, True),    # 70 + 31 > 100
    (None, 2000, 0, False, False),  # a station's first price for a grade: nothing to compare with
])
def test_limits(old: int | None, new: int, moved: int, over_step: bool, over_day: bool) -> None:
    marked, why = check_limits([Line("demo-01", "92", old, new)], DEFAULT_POLICY, {("demo-01", "92"): moved})
    assert (marked[0].over_step, marked[0].over_day) == (over_step, over_day)
    assert bool(why) == (over_step or over_day)


def test_the_day_adds_every_line_of_a_grade_up_and_down() -> None:
    lines = [Line("demo-01", "92", 789, 829 - 1), Line("demo-01", "92", 789, 750, "disp-01", 1, 1),
             Line("demo-01", "92", 789, 760, "disp-01", 2, 1)]
    marked, why = check_limits(lines, DEFAULT_POLICY, {})
    assert [m.over_day for m in marked] == [False, False, True]      # 39, 78, 107
    assert len(why) == 1 and "107" in why[0]


def test_policy_checks() -> None:
    assert check_policy(60, Decimal("7.5"), 150) == Policy(60, Decimal("7.50"), 150)
    for args, field in (((0, Decimal(5), 100), "step_fen"), ((50, Decimal(0), 100), "step_pct"),
                        ((50, Decimal(5), 0), "day_fen")):
        with pytest.raises(PriceError) as refused:
            check_policy(*args)
        assert refused.value.field == field
    with pytest.raises(PriceError):
        check_reason("   ")
    assert check_reason(" 国际油价上涨 ") == "国际油价上涨"


def test_next_set_resolves_each_nozzle() -> None:
    grades, priced = next_set({}, {}, NOZZLES, [Line("demo-01", "92", None, 789), Line("demo-01", "95", None, 836)])
    assert grades == {"92": 789, "95": 836}
    assert [(n.fuelling_point, n.nozzle, n.price_fen, n.own_price) for n in priced] == [
        (1, 1, 789, False), (1, 2, 836, False), (2, 1, 789, False), (2, 2, 836, False)]
    # a nozzle's own price (单枪调价) …
    previous = {NozzleKey(n.device, n.fuelling_point, n.nozzle): n for n in priced}
    grades, priced = next_set(grades, previous, NOZZLES, [Line("demo-01", "92", 789, 779, "disp-01", 2, 1)])
    assert grades == {"92": 789, "95": 836}
    assert [(n.price_fen, n.own_price) for n in priced] == [(789, False), (836, False), (779, True), (836, False)]
    # … stays through a change of another grade …
    previous = {NozzleKey(n.device, n.fuelling_point, n.nozzle): n for n in priced}
    _, kept = next_set(grades, previous, NOZZLES, [Line("demo-01", "95", 836, 846)])
    assert [n.price_fen for n in kept] == [789, 846, 779, 846]
    # … and ends with a change of its own grade
    _, ended = next_set(grades, previous, NOZZLES, [Line("demo-01", "92", 789, 799)])
    assert [(n.price_fen, n.own_price) for n in ended] == [(799, False), (836, False), (799, False), (836, False)]


def test_a_nozzle_whose_grade_changed_in_master_data_takes_its_new_grades_price() -> None:
    own = SetNozzle("disp-01", 1, 1, "92", 779, True)
    moved = (StationNozzle("disp-01", 1, 1, "95"),)
    _, priced = next_set({"92": 789, "95": 836}, {NozzleKey("disp-01", 1, 1): own}, moved, [])
    assert priced == [SetNozzle("disp-01", 1, 1, "95", 836, False)]
    _, none = next_set({"92": 789}, {}, (StationNozzle("disp-01", 1, 1, "lng"),), [])
    assert none == []                                                  # no price for its grade: left out


def test_reports_move_a_nozzle_forward_only() -> None:
    t = datetime(2026, 12, 4, 8, tzinfo=UTC)
    assert newer_report("pending", 1, t, "pending", 0, None)            # the first report
    assert newer_report("applied", 1, t + timedelta(seconds=1), "pending", 1, t)
    assert not newer_report("pending", 1, t, "applied", 1, t + timedelta(seconds=1))   # a late pending
    assert newer_report("applied", 1, t, "pending", 1, t)               # the same moment: further state
    assert not newer_report("refused", 1, t, "applied", 1, t)
    assert newer_report("applied", 2, t, "refused", 1, t + timedelta(minutes=5))       # a later attempt


def test_set_states() -> None:
    now = datetime(2026, 12, 4, tzinfo=UTC)
    assert set_state(["pending", "applied"], None) == "applying"
    assert set_state(["refused", "applied"], None) == "partly_applied"
    assert set_state(["applied", "applied"], now) == "in_force"
    assert business_day(datetime(2026, 12, 4, 16, 30, tzinfo=UTC)).isoformat() == "2026-12-05"   # China's day


def test_summary_is_short() -> None:
    lines = [Line(f"s-{i}", "92", 789, 799) for i in range(6)]
    assert summary(lines[:1]) == "调价 s-0 92 7.89→7.99"
    assert summary(lines).endswith("等 6 项")


TREE = {"changjia": ["demo-01", "demo-02", "demo-03"], "east": ["demo-01", "demo-02"], "west": ["demo-03"],
        "demo-01": ["demo-01"]}


@pytest.mark.parametrize(("units", "scope", "stations"), [
    (["east"], None, ["demo-01", "demo-02"]),
    (["east", "changjia"], None, ["demo-01", "demo-02", "demo-03"]),      # each station once, in order
    (["east"], frozenset({"demo-02"}), ["demo-02"]),                      # only the caller's stations
    (["changjia"], frozenset({"demo-03", "demo-01"}), ["demo-01", "demo-03"]),
    (["demo-01"], None, ["demo-01"]),                                     # a station unit is itself
])
def test_units_expand_to_their_stations_in_scope(units: list[str], scope: frozenset[str] | None,
                                                 stations: list[str]) -> None:
    assert expand_units(units, TREE, scope) == stations


@pytest.mark.parametrize(("units", "scope", "field"), [
    (["north"], None, "units[0]"),                                       # no such unit
    (["east", "west"], frozenset({"demo-01"}), "units[1]"),              # none of west's stations is the caller's
])
def test_a_unit_unknown_or_outside_the_scope_is_refused(units: list[str], scope: frozenset[str] | None,
                                                        field: str) -> None:
    with pytest.raises(PriceError) as refused:
        expand_units(units, TREE, scope)
    assert refused.value.field == field


NEW = CurrentPrices({}, NOZZLES)          # a station with nozzles and no price set yet


@pytest.mark.parametrize(("named", "from_units", "grades", "kept", "notes"), [
    (["a"], [], {"92": 799}, ["a"], []),                                 # priced stations: nothing to say
    (["n"], [], {"92": 690, "95": 1290}, ["n"], ["n 首次定价"]),          # a first set naming every grade
    ([], ["a", "n"], {"92": 799}, ["a"], ["n 还没有价格"]),               # through a region: left out, said
    (["n"], ["a", "n"], {"92": 690, "95": 1290}, ["n", "a"], ["n 首次定价"]),   # named too: its first set
])
def test_first_sets(named: list[str], from_units: list[str], grades: dict[str, int], kept: list[str],
                    notes: list[str]) -> None:
    found, said = first_sets(named, from_units, grades, {"a": DEMO, "n": NEW})
    assert found == kept
    assert [n[:len(want)] for n, want in zip(said, notes, strict=True)] == notes


def test_a_first_set_prices_every_grade_the_station_sells() -> None:
    with pytest.raises(PriceError) as refused:
        first_sets(["n"], [], {"92": 690}, {"n": NEW})
    assert refused.value.field == "grades" and "95" in refused.value.message
