"""The members context's pure rules: phones, plates, the ID number's GB 11643 checksum, masking by role, levels
(upgrade at once, downgrade only at review), the lifecycle from RFM and the rule tags' shape."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from business_services.members.model import (
    Disclosure,
    Gender,
    Level,
    Lifecycle,
    MemberError,
    Rfm,
    TagRule,
    check_levels,
    growth_of,
    id_number,
    level_for,
    lifecycle,
    phone,
    plate,
    review,
    shown,
    upgrade,
)

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def with_check(first17: str) -> str:
    return first17 + "10X98765432"[sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True)) % 11]


LEVELS = [Level("normal", "普通会员", 0, 0), Level("silver", "银卡会员", 1, 1000, 1),
          Level("gold", "金卡会员", 2, 5000, 2)]


def test_the_published_sample_id_number_passes_and_keeps_only_a_masked_form() -> None:
    checked = id_number("11010519491231002X", today=date(2026, 12, 5))   # GB 11643's own example
    assert checked.masked == "1101**********002X"
    assert checked.birthday == date(1949, 12, 31) and checked.gender is Gender.FEMALE   # 17th digit 2: even
    male = id_number(with_check("44030119900307123"), today=date(2026, 12, 5))
    assert male.gender is Gender.MALE and male.birthday == date(1990, 3, 7)


@pytest.mark.parametrize(("number", "why"), [
    ("110105194912310021", "校验位"),              # one check character off
    ("11010519491231002", "18 位"),                # 17 characters
    ("1101051949123100AX", "18 位"),               # letters inside
    (with_check("11010519490231002"), "出生日期"),  # 31 February
    (with_check("11010530001231002"), "出生日期"),  # born in the future
])
def test_a_wrong_id_number_is_refused_naming_why(number: str, why: str) -> None:
    with pytest.raises(MemberError) as refused:
        id_number(number, today=date(2026, 12, 5))
    assert refused.value.field == "id_number" and why in refused.value.message


def test_phones_and_plates_are_normalised_or_refused() -> None:
    assert phone("+86 138-1234-5678") == "13812345678"
    for bad in ("12812345678", "1381234567", "phone"):
        with pytest.raises(MemberError, match="手机号"):
            phone(bad)
    assert plate(" 京a·12345 ") == "京A12345" and plate("粤BD12345") == "粤BD12345"
    with pytest.raises(MemberError, match="车牌"):
        plate("AB12345")


def test_one_function_masks_what_a_reader_without_pii_read_sees() -> None:
    row = {"member_no": "M00000001", "phone": "13812345678", "name": "张三丰", "plate": "京A12345",
           "plates": ["京A12345", "粤BD12345"], "card_no": "6222000011112222", "level_name": "金卡会员"}
    hidden = shown(row, Disclosure.of(frozenset({"member:read"})))
    assert hidden == {"member_no": "M00000001", "phone": "138****5678", "name": "张**", "plate": "京A***45",
                      "plates": ["京A***45", "粤B****45"], "card_no": "6222********2222", "level_name": "金卡会员"}
    assert shown(row, Disclosure.of(frozenset({"member:read", "pii:read"}))) == row
    pos = shown(row, Disclosure.of(frozenset({"member:register"})))      # the POS pays with the full card number
    assert pos["card_no"] == "6222000011112222" and pos["phone"] == "138****5678"
    assert row["phone"] == "13812345678"                                  # the row itself is left alone


def test_levels_go_up_at_once_and_down_only_at_the_review() -> None:
    assert growth_of(123_456) == 1234 and growth_of(-50_000) == -500 and growth_of(99) == 0
    assert level_for(LEVELS, 999).code == "normal" and level_for(LEVELS, 1000).code == "silver"
    assert upgrade(LEVELS, "normal", 6000).code == "gold"                  # type: ignore[union-attr]
    assert upgrade(LEVELS, "gold", 10) is None                             # never down between reviews
    assert upgrade(LEVELS, "silver", 1500) is None                         # already there
    assert review(LEVELS, "gold", 1200).code == "silver"                   # type: ignore[union-attr]
    assert review(LEVELS, "silver", 1200) is None


def test_a_level_table_must_start_at_zero_and_rise() -> None:
    check_levels(LEVELS)
    with pytest.raises(MemberError, match="必须为 0"):
        check_levels([Level("normal", "普通", 0, 10)])
    with pytest.raises(MemberError, match="应高于"):
        check_levels([*LEVELS, Level("platinum", "铂金", 3, 5000)])


NOW = datetime(2026, 12, 5, 8, tzinfo=UTC)


@pytest.mark.parametrize(("registered_days", "last_order_days", "orders", "stage"), [
    (3, None, 0, Lifecycle.NEW),
    (10, 2, 1, Lifecycle.NEW),          # new for 30 days unless already a regular
    (10, 2, 3, Lifecycle.ACTIVE),
    (200, 30, 5, Lifecycle.ACTIVE),
    (200, 31, 1, Lifecycle.DORMANT),
    (200, 90, 0, Lifecycle.DORMANT),
    (200, 91, 0, Lifecycle.LOST),
    (60, None, 0, Lifecycle.DORMANT),   # registered, never bought: by its registration
    (120, None, 0, Lifecycle.LOST),
])
def test_the_lifecycle_follows_recency_and_frequency(registered_days: int, last_order_days: int | None, orders: int,
                                                     stage: Lifecycle) -> None:
    last = None if last_order_days is None else NOW - timedelta(days=last_order_days)
    assert lifecycle(Rfm(NOW - timedelta(days=registered_days), last, orders, orders * 30_000), NOW) is stage


def test_a_tag_rule_has_a_kind_a_window_and_a_threshold() -> None:
    rule = TagRule.parse({"kind": "orders_in_days", "days": 30, "at_least": 4})
    assert rule.as_json() == {"kind": "orders_in_days", "days": 30, "at_least": 4}
    for bad in ({"kind": "visits", "days": 30, "at_least": 4}, {"kind": "orders_in_days", "days": 0, "at_least": 4},
                {"kind": "spent_in_days", "days": 30}):
        with pytest.raises(MemberError):
            TagRule.parse(bad)
