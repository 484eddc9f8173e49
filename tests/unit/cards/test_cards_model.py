"""The pure rules of stored-value cards (business_services/cards/model.py): card numbers with their Luhn digit,
what refuses a payment, which offer a recharge earns, what closing does, how an offline sale is settled."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from business_services.cards.model import (
    Action,
    CardError,
    CardKind,
    CardRefused,
    CardState,
    CardType,
    Closing,
    Limits,
    Medium,
    Offer,
    PaymentAsk,
    Restrictions,
    Scope,
    Status,
    Usage,
    best_offer,
    card_number,
    check_action,
    check_card_no,
    check_close,
    check_recharge,
    closing,
    day_start,
    luhn_digit,
    luhn_valid,
    mask_card_no,
    mask_plate,
    refusal,
    repayment,
    restrictions_of,
    settle_offline,
)


def test_luhn_digit_of_known_numbers() -> None:
    assert luhn_digit("7992739871") == "3"                 # the textbook example: 79927398713
    assert luhn_valid("4111111111111111")                  # a well-known test card number
    assert not luhn_valid("4111111111111112")


def test_card_numbers_are_prefix_serial_and_check_digit() -> None:
    assert card_number("8861", 16, 1) == "886100000000001" + luhn_digit("886100000000001")
    nineteen = card_number("886101", 19, 123456)
    assert len(nineteen) == 19 and nineteen.startswith("886101") and luhn_valid(nineteen)
    with pytest.raises(CardError) as too_big:
        card_number("8861", 16, 10**11)                   # 16 − 4 − 1 = 11 digits of serial
    assert too_big.value.field == "first_serial"


@given(st.integers(min_value=1, max_value=10**11 - 1), st.integers(min_value=0, max_value=14), st.integers(0, 9))
def test_every_number_passes_luhn_and_any_one_digit_changed_fails(serial: int, at: int, delta: int) -> None:
    number = card_number("8861", 16, serial)
    assert luhn_valid(number) and len(number) == 16
    changed = number[:at] + str((int(number[at]) + delta) % 10) + number[at + 1:]
    assert luhn_valid(changed) == (delta == 0)


def test_check_card_no_names_what_is_wrong() -> None:
    assert check_card_no("4111111111111111") == "4111111111111111"
    with pytest.raises(CardError, match="16 或 19"):
        check_card_no("41111111")
    with pytest.raises(CardError, match="校验位"):
        check_card_no("4111111111111112")


def test_masks() -> None:
    assert mask_card_no("6228480402564890") == "6228********4890"
    assert mask_plate("粤B12345") == "粤B****5"


def _type(**changes: object) -> CardType:
    values: dict[str, object] = {"code": "chain-sv", "name": "连锁储值卡", "scope": Scope.CHAIN, "station": None,
                                 "named": True, "medium": Medium.PHYSICAL, "kind": CardKind.STORED_VALUE,
                                 "prefix": "8861", "length": 16}
    return CardType(**(values | changes))  # type: ignore[arg-type]


def test_card_type_rules() -> None:
    assert _type().scope is Scope.CHAIN
    for changes, field in [({"scope": Scope.STATION}, "station"), ({"length": 17}, "length"),
                           ({"prefix": "0861"}, "prefix"), ({"code": "卡"}, "code"),
                           ({"offline_limit_fen": 50000, "offline_daily_fen": 20000}, "offline_limit_fen")]:
        with pytest.raises(CardError) as refused:
            _type(**changes)
        assert refused.value.field == field


def test_a_single_station_card_is_for_its_station_only() -> None:
    single = _type(scope=Scope.STATION, station="demo-01")
    assert restrictions_of(single).stations == ("demo-01",)
    with pytest.raises(CardError, match="单站卡"):
        restrictions_of(single, stations=("demo-02",))
    assert restrictions_of(_type(limits=Limits(daily_limit_fen=100000))).limits.daily_limit_fen == 100000


def _card(status: Status = Status.ACTIVE, **restrictions: object) -> CardState:
    return CardState("8861000000000016", CardKind.STORED_VALUE, status, Restrictions(**restrictions))  # type: ignore[arg-type]


ASK = PaymentAsk("demo-01", 30000, grade=92, volume_l=Decimal("40.00"), plate="粤B12345")


@pytest.mark.parametrize(("card", "ask", "today", "why"), [
    (_card(Status.LOST), ASK, Usage(), "卡已挂失"),
    (_card(Status.FROZEN), ASK, Usage(), "卡已冻结"),
    (_card(Status.CLOSED), ASK, Usage(), "卡已注销"),
    (_card(stations=("demo-02",)), ASK, Usage(), "限制站点"),
    (_card(plates=("粤B99999",)), ASK, Usage(), "限制车牌"),
    (_card(plates=("粤B99999",)), PaymentAsk("demo-01", 100), Usage(), "限制车牌"),     # no plate given
    (_card(grades=(95,)), ASK, Usage(), "限制油品"),
    (_card(limits=Limits(litres_per_fill=30)), ASK, Usage(), "超出单次加油量"),
    (_card(limits=Limits(fills_per_day=2)), ASK, Usage(20000, 2), "超出单日加油次数"),
    (_card(limits=Limits(daily_limit_fen=50000)), ASK, Usage(20001, 1), "超出单日限额，今日还可用 299.99 元"),
])
def test_what_refuses_a_payment(card: CardState, ask: PaymentAsk, today: Usage, why: str) -> None:
    found = refusal(card, ask, today)
    assert found is not None and found.startswith(why)


def test_what_a_card_may_pay() -> None:
    card = _card(stations=("demo-01",), plates=("粤B12345",), grades=(92, 95),
                 limits=Limits(daily_limit_fen=50000, litres_per_fill=40, fills_per_day=3))
    assert refusal(card, ASK, Usage(20000, 2)) is None                  # exactly at each limit
    ic = CardState("8861000000000016", CardKind.IC, Status.ACTIVE, Restrictions())
    assert "IC" in (refusal(ic, ASK, Usage()) or "")


def _offer(n: int, minimum: int, bonus: int, **changes: object) -> Offer:
    values: dict[str, object] = {"id": n, "name": f"充{minimum // 100}送{bonus // 100}", "min_paid_fen": minimum,
                                 "bonus_fen": bonus, "starts_on": date(2026, 12, 1), "ends_on": date(2026, 12, 31)}
    return Offer(**(values | changes))  # type: ignore[arg-type]


def test_the_best_offer_that_applies() -> None:
    offers = [_offer(1, 50000, 5000), _offer(2, 100000, 12000), _offer(3, 20000, 1000, stations=("demo-02",)),
              _offer(4, 30000, 2500, card_types=("fleet",)), _offer(5, 10000, 500, ends_on=date(2026, 12, 3))]
    day = date(2026, 12, 4)
    assert best_offer(offers, 49999, "demo-01", "chain-sv", day) is None
    assert best_offer(offers, 50000, "demo-01", "chain-sv", day) == offers[0]           # 充500送50
    assert best_offer(offers, 150000, "demo-01", "chain-sv", day) == offers[1]          # the largest bonus only
    assert best_offer(offers, 20000, "demo-02", "chain-sv", day) == offers[2]           # that station's own
    assert best_offer(offers, 30000, "demo-01", "fleet", day) == offers[3]
    assert best_offer(offers, 10000, "demo-01", "chain-sv", date(2026, 12, 3)) == offers[4]   # its last day
    assert best_offer([_offer(6, 50000, 5000, active=False)], 50000, "demo-01", "x", day) is None


def test_offer_rules() -> None:
    with pytest.raises(CardError) as refused:
        _offer(1, 50000, 60000)
    assert refused.value.field == "bonus_fen"
    with pytest.raises(CardError):
        _offer(1, 50000, 5000, ends_on=date(2026, 11, 30))


def test_recharge_rules() -> None:
    check_recharge(Status.FROZEN, False, 100)          # a frozen card may be recharged (it repays an overdraft)
    with pytest.raises(CardRefused, match="挂失"):
        check_recharge(Status.LOST, False, 100)
    with pytest.raises(CardRefused, match="副卡"):
        check_recharge(Status.ACTIVE, True, 100)
    with pytest.raises(CardError):
        check_recharge(Status.ACTIVE, False, 0)


def test_closing_refunds_a_named_card_and_forfeits_an_anonymous_one() -> None:
    assert closing(True) is Closing.REFUND and closing(False) is Closing.FORFEIT
    with pytest.raises(CardRefused, match="透支"):
        check_close(Status.FROZEN, 100, 0)
    with pytest.raises(CardRefused, match="副卡"):
        check_close(Status.ACTIVE, 0, 2)
    check_close(Status.LOST, 0, 0)


def test_actions_that_need_approval() -> None:
    check_action(Action.REPORT_LOSS, Status.FROZEN, True, None)
    with pytest.raises(CardRefused, match="不记名"):
        check_action(Action.REPORT_LOSS, Status.ACTIVE, False, None)
    with pytest.raises(CardRefused, match="未挂失"):
        check_action(Action.UNLOCK, Status.ACTIVE, True, None)
    with pytest.raises(CardError):
        check_action(Action.TRANSFER, Status.ACTIVE, True, None)


@given(st.integers(-1000, 10**6), st.integers(1, 10**6))
def test_an_offline_sale_is_covered_up_to_the_balance_and_the_rest_is_owed(balance: int, amount: int) -> None:
    settled = settle_offline(balance, amount)
    assert settled.covered_fen + settled.shortfall_fen == amount
    assert 0 <= settled.covered_fen <= max(balance, 0) and settled.shortfall_fen >= 0
    assert repayment(balance, settled.shortfall_fen) <= settled.shortfall_fen


def test_the_day_is_chinas() -> None:
    assert day_start(datetime(2026, 12, 4, 15, 59, tzinfo=UTC)) == datetime(2026, 12, 3, 16, tzinfo=UTC)
    assert day_start(datetime(2026, 12, 4, 16, 0, tzinfo=UTC)) == datetime(2026, 12, 4, 16, tzinfo=UTC)
