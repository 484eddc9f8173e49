"""The pure rules of the station's members: lookup keys, masks, and the offline limits of a stored-value card."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from business_services.station_members.model import (
    LookupBy,
    MemberRuleError,
    business_day,
    lookup_key,
    mask_card,
    mask_plate,
    offline_refusal,
)
from telemetry.contracts.members import ListedCard


def card(**changes: object) -> ListedCard:
    values: dict[str, object] = {"card_no": "6222000011112222", "kind": "stored_value", "status": "active",
                                 "offline_limit_fen": 20000, "offline_daily_fen": 30000, "balance_fen": 100000}
    return ListedCard.model_validate(values | changes)


@pytest.mark.parametrize(("by", "given", "key"), [
    (LookupBy.PHONE, " 138 0013 8000 ", "13800138000"), (LookupBy.CARD_NO, "6222000011112222", "6222000011112222"),
    (LookupBy.PLATE, "京a12345", "京A12345"), (LookupBy.PLATE, "粤BD12345", "粤BD12345"),
    (LookupBy.QR, "qr-token-0001", "qr-token-0001")])
def test_a_lookup_key_is_cleaned(by: LookupBy, given: str, key: str) -> None:
    assert lookup_key(by, given) == key


@pytest.mark.parametrize(("by", "given"), [
    (LookupBy.PHONE, "12345"), (LookupBy.PHONE, "23800138000"), (LookupBy.CARD_NO, "622200001111222"),
    (LookupBy.PLATE, "AA12345"), (LookupBy.QR, "短"), (LookupBy.QR, "x'; DROP TABLE")])
def test_a_bad_lookup_key_is_refused_in_chinese_first(by: LookupBy, given: str) -> None:
    with pytest.raises(MemberRuleError) as refused:
        lookup_key(by, given)
    assert refused.value.status == 422 and refused.value.field == by.value
    assert not refused.value.message[0].isascii()


def test_masks() -> None:
    assert mask_card("6222000011112222") == "6222 **** **** 2222"
    assert mask_plate("京A12345") == "京A***45"


def test_offline_limits_per_payment_and_per_day() -> None:
    assert offline_refusal(card(), 20000, 0) is None
    assert offline_refusal(card(), 20001, 0) == (
        "总部连接中断，储值卡离线限额 ¥200.00（今日本站已离线消费 ¥0.00，单日离线限额 ¥300.00），请改用其他方式 "
        "(head office is unreachable; this card may pay at most 200.00 yuan offline now)")
    assert offline_refusal(card(), 10000, 20000) is None              # 200 + 100 = the day's 300
    assert "今日本站已离线消费 ¥200.01" in (offline_refusal(card(), 10000, 20001) or "")
    assert offline_refusal(card(offline_limit_fen=0, offline_daily_fen=0), 1, 0) is not None   # never offline


def test_offline_refuses_what_the_list_says_no_to() -> None:
    assert "名单中没有此卡" in (offline_refusal(None, 100, 0) or "")
    assert "冻结" in (offline_refusal(card(status="frozen"), 100, 0) or "")
    assert "挂失" in (offline_refusal(card(status="lost"), 100, 0) or "")
    assert "不是储值卡" in (offline_refusal(card(kind="ic"), 100, 0) or "")
    assert "余额不足" in (offline_refusal(card(balance_fen=50), 100, 0) or "")
    assert "余额不足（约 ¥0.50）" in (offline_refusal(card(balance_fen=15000), 10000, 14950) or "")   # less today's
    assert "车牌" in (offline_refusal(card(plates=("京A12345",)), 100, 0, plate="京B12345") or "")
    assert offline_refusal(card(plates=("京A12345",)), 100, 0, plate="京A12345") is None
    assert "油品" in (offline_refusal(card(grades=(95,)), 100, 0, grade=92) or "")


def test_the_day_is_the_stations_day_in_china() -> None:
    assert str(business_day(datetime(2026, 12, 4, 16, 30, tzinfo=UTC))) == "2026-12-05"     # 00:30 in Beijing
    assert str(business_day(datetime(2026, 12, 4, 15, 59, tzinfo=UTC))) == "2026-12-04"
