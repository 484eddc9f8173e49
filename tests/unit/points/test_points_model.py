"""The pure rules of points: what a sale earns (points_for), lots drawn oldest first, refunds' shares, expiry dates."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from business_services.points.model import (
    CHINA,
    Basis,
    Lot,
    MemberLevel,
    PointsError,
    PointsRefused,
    Rule,
    RuleKind,
    Sale,
    Settings,
    Transfer,
    check_rule,
    draw,
    expires_at,
    points_for,
    refund_share,
    reversal,
    within_days,
)

START = date(2026, 1, 1)
PER_YUAN = Rule(RuleKind.BASE, START, basis=Basis.AMOUNT, rate=Decimal(1), id=1)
DIESEL_PER_LITRE = Rule(RuleKind.BASE, START, basis=Basis.VOLUME, rate=Decimal(2), grades=frozenset({"0"}), id=2)
GOLD = Rule(RuleKind.LEVEL, START, level="gold", multiplier=Decimal("1.5"), id=3)
MEMBER_DAY = Rule(RuleKind.DAY, START, day_of_month=8, multiplier=Decimal(2), id=4)
CAMPAIGN = Rule(RuleKind.CAMPAIGN, date(2026, 12, 1), date(2026, 12, 31), stations=frozenset({"st-01"}),
                multiplier=Decimal(3), bonus=50, id=5)
RULES = [PER_YUAN, DIESEL_PER_LITRE, GOLD, MEMBER_DAY, CAMPAIGN]
GOLD_MEMBER = MemberLevel("gold")
ORDINARY_DAY = datetime(2026, 11, 4, 2, tzinfo=UTC)      # 10:00 in China, a Wednesday


def sale(amount_fen: int, grade: str | None = "92", volume: str | None = None, station: str = "st-02") -> Sale:
    return Sale(station, amount_fen, grade, None if volume is None else Decimal(volume))


def test_one_point_per_yuan_rounded_down() -> None:
    assert points_for(sale(29_099), None, RULES, ORDINARY_DAY) == 290
    assert points_for(sale(99), None, RULES, ORDINARY_DAY) == 0


def test_a_rule_for_the_grade_wins_over_one_for_every_grade() -> None:
    assert points_for(sale(30_000, "0", "40.55"), None, RULES, ORDINARY_DAY) == 81     # 40.55 L × 2
    assert points_for(sale(30_000, "0"), None, RULES, ORDINARY_DAY) == 300             # no volume: per 元


def test_level_day_and_campaign_multiply_and_the_bonus_adds() -> None:
    assert points_for(sale(10_000), GOLD_MEMBER, RULES, ORDINARY_DAY) == 150
    member_day = datetime(2026, 11, 7, 17, tzinfo=UTC)        # 01:00 on the 8th in China (the 7th in UTC)
    assert points_for(sale(10_000), GOLD_MEMBER, RULES, member_day) == 300
    in_campaign = datetime(2026, 12, 8, 4, tzinfo=UTC)
    assert points_for(sale(10_000, station="st-01"), GOLD_MEMBER, RULES, in_campaign) == 100 * 3 * 2 * 3 // 2 + 50
    assert points_for(sale(10_000, station="st-02"), GOLD_MEMBER, RULES, in_campaign) == 300   # not its station


def test_the_level_s_own_multiplier_and_a_level_rule_the_larger_counts() -> None:
    assert points_for(sale(10_000), MemberLevel("silver", Decimal("1.2")), RULES, ORDINARY_DAY) == 120
    assert points_for(sale(10_000), MemberLevel("gold", Decimal("1.2")), RULES, ORDINARY_DAY) == 150   # the rule
    assert points_for(sale(10_000), MemberLevel("gold", Decimal(2)), RULES, ORDINARY_DAY) == 200       # the level


def test_rules_out_of_effect_count_for_nothing() -> None:
    ended = Rule(RuleKind.BASE, START, date(2026, 6, 30), basis=Basis.AMOUNT, rate=Decimal(5), id=9,
                 grades=frozenset({"92"}))
    assert points_for(sale(10_000), None, [PER_YUAN, ended], datetime(2026, 6, 30, 16, tzinfo=UTC)) == 100  # 7-01
    assert points_for(sale(10_000), None, [PER_YUAN, ended], datetime(2026, 6, 30, 15, 59, tzinfo=UTC)) == 500
    assert points_for(sale(10_000), None, [PER_YUAN, ended], datetime(2026, 6, 30, 3, tzinfo=UTC)) == 500
    assert points_for(sale(10_000), None, [], ORDINARY_DAY) == 0


rules_st = st.lists(st.sampled_from(RULES), unique=True)
sales_st = st.builds(sale, st.integers(0, 10_000_000), st.sampled_from(["92", "95", "0", None]),
                     st.one_of(st.none(), st.decimals("0", "999.99", places=2).map(str)),
                     st.sampled_from(["st-01", "st-02"]))
times_st = st.datetimes(datetime(2025, 6, 1), datetime(2027, 6, 1), timezones=st.just(UTC))  # noqa: DTZ001 (naive bounds)
levels_st = st.sampled_from([None, MemberLevel("gold"), MemberLevel("silver", Decimal("1.2"))])


@given(sales_st, levels_st, rules_st, times_st, st.randoms())
def test_points_never_negative_and_the_order_of_rules_does_not_matter(s: Sale, level: MemberLevel | None,
                                                                      rules: list[Rule], at: datetime,
                                                                      rnd: random.Random) -> None:
    earned = points_for(s, level, rules, at)
    assert earned >= 0
    shuffled = list(rules)
    rnd.shuffle(shuffled)
    assert points_for(s, level, shuffled, at) == earned


@given(sales_st, st.integers(1, 1_000_000), levels_st, rules_st, times_st)
def test_paying_more_never_earns_less(s: Sale, more: int, level: MemberLevel | None, rules: list[Rule],
                                      at: datetime) -> None:
    bigger = Sale(s.station, s.amount_fen + more, s.grade, s.volume_l)
    assert points_for(bigger, level, rules, at) >= points_for(s, level, rules, at)


@given(sales_st, rules_st, times_st)
def test_a_level_multiplier_never_earns_less(s: Sale, rules: list[Rule], at: datetime) -> None:
    assert points_for(s, GOLD_MEMBER, rules, at) >= points_for(s, None, rules, at)
    assert points_for(s, MemberLevel("silver", Decimal("1.2")), rules, at) >= points_for(s, None, rules, at)


@given(st.lists(st.integers(0, 500), min_size=1, max_size=8), st.integers(1, 3000), st.data())
def test_draw_takes_oldest_expiry_first_and_exactly_the_amount(remaining: list[int], amount: int,
                                                                 data: st.DataObject) -> None:
    base = datetime(2027, 1, 1, tzinfo=CHINA)
    lots = [Lot(i + 1, r, base + timedelta(days=data.draw(st.integers(0, 800)))) for i, r in enumerate(remaining)]
    if sum(remaining) < amount:
        with pytest.raises(PointsRefused, match="积分不足"):
            draw(lots, amount)
        return
    taken = draw(lots, amount)
    assert sum(n for _, n in taken) == amount
    assert all(0 < n <= lot.remaining for lot, n in taken)
    used = {lot.id for lot, _ in taken}
    last = max((lot.expires_at, lot.id) for lot, _ in taken)
    untouched_older = [lot for lot in lots if lot.id not in used and lot.remaining and (lot.expires_at, lot.id) < last]
    assert not untouched_older, "a lot expiring sooner was left while a later one was drawn"
    assert all(n == lot.remaining for lot, n in taken[:-1])      # every lot but the last is emptied


def test_draw_takes_the_named_lot_first() -> None:
    lots = [Lot(1, 10, datetime(2027, 1, 1, tzinfo=UTC)), Lot(2, 10, datetime(2028, 1, 1, tzinfo=UTC))]
    assert [(lot.id, n) for lot, n in draw(lots, 15, first=2)] == [(2, 10), (1, 5)]


@given(st.integers(0, 100_000), st.integers(1, 10_000_000), st.lists(st.integers(1, 10_000_000), max_size=5))
def test_refund_shares_never_take_back_more_than_earned(earned: int, amount: int, refunds: list[int]) -> None:
    left, refunded = earned, 0
    for fen in refunds:
        fen = min(fen, amount - refunded)
        if fen <= 0:
            break
        share = min(refund_share(earned, amount, fen), left)
        assert share <= earned * fen // amount
        left -= share
        refunded += fen
    assert 0 <= left <= earned
    if refunded == amount and len(refunds) == 1:
        assert left == 0                                    # a whole refund at once takes back everything


def test_a_refund_of_part_takes_back_the_proportional_share_rounded_down() -> None:
    assert refund_share(290, 29_000, 10_000) == 100
    assert refund_share(290, 29_000, 9_999) == 99
    assert reversal(100, 30) == reversal(100, 30)
    assert (reversal(100, 30).taken, reversal(100, 30).owed) == (30, 70)
    assert (reversal(100, 500).taken, reversal(100, 500).owed) == (100, 0)


def test_lots_expire_at_the_end_of_the_following_year_in_china() -> None:
    new_years_eve = datetime(2026, 12, 31, 16, 30, tzinfo=UTC)     # 00:30 on 2027-01-01 in China
    assert expires_at(new_years_eve, Settings()) == datetime(2029, 1, 1, tzinfo=CHINA)
    assert expires_at(ORDINARY_DAY, Settings()) == datetime(2028, 1, 1, tzinfo=CHINA)
    assert expires_at(ORDINARY_DAY, Settings(expiry_years=0)) == datetime(2027, 1, 1, tzinfo=CHINA)


def test_assign_window_counts_whole_days_in_china() -> None:
    sold = datetime(2026, 12, 1, 15, tzinfo=UTC)          # 23:00 on 12-01 in China
    assert within_days(sold, datetime(2026, 12, 8, 15, 59, tzinfo=UTC), 7)
    assert not within_days(sold, datetime(2026, 12, 8, 16, 0, tzinfo=UTC), 7)


@pytest.mark.parametrize(("rule", "field"), [
    (Rule(RuleKind.BASE, START, basis=Basis.AMOUNT), "rate"),
    (Rule(RuleKind.BASE, START, basis=Basis.AMOUNT, rate=Decimal(0)), "rate"),
    (Rule(RuleKind.BASE, START, basis=Basis.AMOUNT, rate=Decimal(1), grades=frozenset({"93"})), "grades"),
    (Rule(RuleKind.LEVEL, START, multiplier=Decimal(2)), "level"),
    (Rule(RuleKind.DAY, START, multiplier=Decimal(2)), "day_of_month"),
    (Rule(RuleKind.DAY, START, multiplier=Decimal(2), weekday=8), "weekday"),
    (Rule(RuleKind.DAY, START, multiplier=Decimal("0.5"), day_of_month=8), "multiplier"),
    (Rule(RuleKind.CAMPAIGN, START, date(2026, 2, 1)), "multiplier"),
    (Rule(RuleKind.CAMPAIGN, START, bonus=10), "effective_to"),
    (Rule(RuleKind.BASE, START, date(2025, 1, 1), basis=Basis.AMOUNT, rate=Decimal(1)), "effective_to"),
])
def test_a_rule_that_does_not_fit_its_kind_names_the_field(rule: Rule, field: str) -> None:
    with pytest.raises(PointsError) as refused:
        check_rule(rule)
    assert refused.value.field == field
    assert refused.value.message[0] > "\u4e00"           # Chinese first


def test_bad_settings_and_commands_name_the_field() -> None:
    with pytest.raises(PointsError, match="抵现比例"):
        Settings(points_per_yuan=0)
    with pytest.raises(PointsError, match="自己"):
        Transfer("t-1", "M00000001", "M00000001", 10, ORDINARY_DAY)
    assert check_rule(CAMPAIGN) is CAMPAIGN
