"""The entries of customers' money as pure rules: what each builder moves, in which unit and direction, under
which idempotency key; and who may read a customer's account."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from business_services.ledger.model import (
    CARD_OVERDRAFT,
    HOT,
    POINTS_EXPIRED,
    POINTS_ISSUED,
    POINTS_REDEEMED,
    POINTS_REDEMPTION,
    RECHARGE_BONUS,
    Account,
    Entry,
    Kind,
    LedgerError,
    Unit,
    card_credit_entry,
    card_debit_entry,
    card_transfer_entry,
    clearing,
    customer_permission,
    mask_card_numbers,
    payment_entry,
    points_award_entry,
    points_expiry_entry,
    points_payment_entry,
    points_redemption_entry,
    points_reversal_entry,
    points_transfer_entry,
    purse_debit_entry,
    purse_load_entry,
    recharge_entry,
)
from telemetry.contracts.events.payments import Allocation, Method, PaymentCaptured

NOW = datetime(2026, 12, 5, 8, tzinfo=UTC)
ST = "st-01"
SHIFT = "st-01-20261205-S00001"
CARD = "6225880012345678"
OTHER = "6225880087654321901"          # 19 digits
M1, M2 = "M00000001", "M00000002"


def changes(*entries: Entry) -> dict[str, int]:
    """Each account's balance change, in its normal direction (what its ``balance`` column moves by)."""
    moved: Counter[str] = Counter()
    for entry in entries:
        for p in entry.postings:
            moved[p.account.code] += p.account.balance_change(p.amount)
    return {code: change for code, change in moved.items() if change}


def units(entry: Entry) -> dict[str, Unit]:
    return {p.account.code: p.account.unit for p in entry.postings}


def test_a_recharge_raises_the_card_by_what_was_paid_and_the_bonus() -> None:
    entry = recharge_entry("R1", CARD, 50000, 5000, Method.CASH, ST, SHIFT, NOW)
    assert entry.idempotency_key == "card.recharged:R1"
    assert changes(entry) == {f"card:{CARD}": 55000, f"drawer:{ST}:{SHIFT}": 50000, RECHARGE_BONUS.code: 5000}
    without_bonus = recharge_entry("R2", CARD, 10000, 0, Method.WECHAT, ST, SHIFT, NOW)
    assert changes(without_bonus) == {f"card:{CARD}": 10000, f"clearing:wechat:{ST}": 10000}
    assert len(without_bonus.postings) == 2


@pytest.mark.parametrize(("paid", "bonus"), [(0, 0), (0, 500), (-100, 0), (1000, -1)])
def test_a_recharge_pays_something_and_no_negative_bonus(paid: int, bonus: int) -> None:
    with pytest.raises(LedgerError):
        recharge_entry("R1", CARD, paid, bonus, Method.CASH, ST, SHIFT, NOW)


def stored_value_payment(fen: int) -> PaymentCaptured:
    return PaymentCaptured(payment_no="st-01-20261205-P00001", station=ST, shift_no=SHIFT, terminal="pos-1",
                           cashier="c", method=Method.STORED_VALUE, amount_fen=fen,
                           allocations=(Allocation(order_no="st-01-20261205-O00001", amount_fen=fen),),
                           captured_at=NOW)


def test_a_card_debit_lowers_the_card_and_settles_the_stations_clearing_account() -> None:
    debit = card_debit_entry(ST, "st-01-20261205-P00001", CARD, 3000, NOW)
    assert debit.idempotency_key == f"card.debited:{ST}:st-01-20261205-P00001"
    assert changes(debit) == {f"card:{CARD}": -3000, f"clearing:stored_value:{ST}": -3000}
    # with the station's own payment entry the clearing account nets to nothing: the card paid the sale
    assert changes(debit, payment_entry(stored_value_payment(3000))) == {f"card:{CARD}": -3000, f"sales:{ST}": 3000}


def test_a_card_credit_returns_a_refund_to_the_card() -> None:
    credit = card_credit_entry(ST, "st-01-20261205-R00001", CARD, 700, NOW)
    assert credit.idempotency_key == f"card.credited:{ST}:st-01-20261205-R00001"
    assert changes(credit) == {f"card:{CARD}": 700, f"clearing:stored_value:{ST}": 700}


def test_an_ic_purse_is_loaded_from_the_reserve_and_debited_at_the_pump() -> None:
    load = purse_load_entry("L1", CARD, 20000, NOW)
    assert load.idempotency_key == "purse.loaded:L1"
    assert changes(load) == {f"card:{CARD}": -20000, f"purse:{CARD}": 20000}
    debit = purse_debit_entry(ST, "P9", CARD, 4500, NOW)
    assert debit.idempotency_key == f"purse.debited:{ST}:P9"
    assert changes(load, debit) == {f"card:{CARD}": -20000, f"purse:{CARD}": 15500, f"clearing:ic_card:{ST}": -4500}


def test_a_card_transfer_moves_value_between_two_cards() -> None:
    transfer = card_transfer_entry("T1", CARD, OTHER, 2500, NOW)
    assert transfer.idempotency_key == "card.transferred:T1"
    assert changes(transfer) == {f"card:{CARD}": -2500, f"card:{OTHER}": 2500}
    allocation = card_transfer_entry("T1", CARD, OTHER, 2500, NOW, kind="card.allocated")
    assert (allocation.idempotency_key, allocation.kind) == ("card.allocated:T1", "card.allocated")
    with pytest.raises(LedgerError, match="appears once"):
        card_transfer_entry("T2", CARD, CARD, 100, NOW)


def test_points_are_awarded_reversed_expired_redeemed_and_transferred_in_points() -> None:
    award = points_award_entry(f"points.awarded:{ST}:O1", M1, 300, NOW, "O1", ST)
    reverse = points_reversal_entry(f"points.reversed:{ST}:R1", M1, 50, NOW, "R1", ST)
    expire = points_expiry_entry("points.expired:2026-12:M00000001", M1, 20, NOW, "2026-12")
    redeem = points_redemption_entry("points.redeemed:X1", M1, 100, NOW, "X1")
    give = points_transfer_entry("points.transferred:G1", M1, M2, 30, NOW, "G1")
    for entry in (award, reverse, expire, redeem, give):
        assert set(units(entry).values()) == {Unit.POINT}
    assert [e.idempotency_key for e in (award, reverse, give)] == [
        f"points.awarded:{ST}:O1", f"points.reversed:{ST}:R1", "points.transferred:G1"]
    assert changes(award) == {f"points:{M1}": 300, POINTS_ISSUED.code: 300}
    assert changes(reverse) == {f"points:{M1}": -50, POINTS_ISSUED.code: -50}
    assert changes(expire) == {f"points:{M1}": -20, POINTS_EXPIRED.code: 20}
    assert changes(redeem) == {f"points:{M1}": -100, POINTS_REDEEMED.code: 100}
    assert changes(give) == {f"points:{M1}": -30, f"points:{M2}": 30}
    assert changes(award, reverse, expire, redeem, give) == {
        f"points:{M1}": 100, f"points:{M2}": 30, POINTS_ISSUED.code: 250, POINTS_EXPIRED.code: 20,
        POINTS_REDEEMED.code: 100}


def test_a_points_payment_balances_points_and_fen_each_on_their_own() -> None:
    entry = points_payment_entry(ST, "P7", M1, 1000, 1000 // 100 * 100, NOW)
    assert entry.idempotency_key == f"points.paid:{ST}:P7"
    assert units(entry) == {f"points:{M1}": Unit.POINT, POINTS_REDEEMED.code: Unit.POINT,
                            POINTS_REDEMPTION.code: Unit.FEN, f"clearing:points:{ST}": Unit.FEN}
    assert changes(entry) == {f"points:{M1}": -1000, POINTS_REDEEMED.code: 1000, POINTS_REDEMPTION.code: 1000,
                              f"clearing:points:{ST}": -1000}
    for spent, fen in [(100, 0), (-5, 100), (100, -1)]:
        with pytest.raises(LedgerError):
            points_payment_entry(ST, "P8", M1, spent, fen, NOW)
    # no points left (an offline tender the points part records as a debt): only the money side posts
    assert changes(points_payment_entry(ST, "P9", M1, 0, 100, NOW)) == {POINTS_REDEMPTION.code: 100,
                                                                         f"clearing:points:{ST}": -100}


Builder = Callable[[int], Entry]
BUILDERS: list[Builder] = [
    lambda n: card_debit_entry(ST, "P1", CARD, n, NOW),
    lambda n: card_credit_entry(ST, "R1", CARD, n, NOW),
    lambda n: purse_debit_entry(ST, "P1", CARD, n, NOW),
    lambda n: purse_load_entry("L1", CARD, n, NOW),
    lambda n: card_transfer_entry("T1", CARD, OTHER, n, NOW),
    lambda n: points_award_entry("k", M1, n, NOW, "O1"),
    lambda n: points_reversal_entry("k", M1, n, NOW, "R1"),
    lambda n: points_expiry_entry("k", M1, n, NOW, "E1"),
    lambda n: points_redemption_entry("k", M1, n, NOW, "X1"),
    lambda n: points_transfer_entry("k", M1, M2, n, NOW, "G1"),
]


@pytest.mark.parametrize("build", BUILDERS)
@pytest.mark.parametrize("amount", [0, -1])
def test_every_movement_moves_a_positive_amount(build: Builder, amount: int) -> None:
    with pytest.raises(LedgerError, match="positive"):
        build(amount)


def test_customers_accounts_may_not_go_negative_the_companys_may() -> None:
    entry = recharge_entry("R1", CARD, 100, 10, Method.CASH, ST, SHIFT, NOW)
    floors = {p.account.code: p.account.may_go_negative for p in entry.postings}
    assert floors == {f"card:{CARD}": False, f"drawer:{ST}:{SHIFT}": True, RECHARGE_BONUS.code: True}
    customers = [p.account for b in BUILDERS for p in b(1).postings if customer_permission(p.account.code)]
    assert customers and not any(a.may_go_negative for a in customers)
    assert CARD_OVERDRAFT.may_go_negative


@given(st.lists(st.tuples(st.integers(0, len(BUILDERS) - 1), st.integers(1, 10**9)), max_size=40),
       st.lists(st.tuples(st.integers(1, 10**9), st.integers(1, 10**9)), max_size=5))
def test_any_mix_of_movements_keeps_the_books_balanced(moves: list[tuple[int, int]],
                                                       points_payments: list[tuple[int, int]]) -> None:
    entries = [BUILDERS[i](n) for i, n in moves] + [points_payment_entry(ST, f"P{i}", M1, p, f, NOW)
                                                   for i, (p, f) in enumerate(points_payments)]
    for unit in Unit:
        debit_side = sum(p.account.balance_change(p.amount) for e in entries for p in e.postings
                         if p.account.unit is unit and p.account.kind.debit_normal)
        credit_side = sum(p.account.balance_change(p.amount) for e in entries for p in e.postings
                          if p.account.unit is unit and not p.account.kind.debit_normal)
        assert debit_side == credit_side        # assets + expenses = liabilities + revenue, in each unit


def test_who_reads_a_customers_account() -> None:
    assert customer_permission(f"card:{CARD}") == "card:read"
    assert customer_permission(f"purse:{CARD}") == "card:read"
    assert customer_permission(f"points:{M1}") == "member:read"
    for company in ("points:issued", "points:expired", f"sales:{ST}", f"clearing:stored_value:{ST}",
                    RECHARGE_BONUS.code, CARD_OVERDRAFT.code, "points:M12"):
        assert customer_permission(company) is None


def test_card_numbers_are_masked_wherever_they_appear() -> None:
    assert mask_card_numbers(f"卡 {CARD} 余额") == "卡 6225********5678 余额"
    assert mask_card_numbers(f"{CARD} → {OTHER}") == "6225********5678 → 6225***********1901"
    assert mask_card_numbers("st-01-20261205-P00001 12345678901234567") == "st-01-20261205-P00001 12345678901234567"


def test_only_accounts_without_a_floor_are_striped() -> None:
    with pytest.raises(LedgerError, match="striped"):
        Account("card:x", "卡", Kind.LIABILITY, may_go_negative=False, stripes=2)
    with pytest.raises(LedgerError):
        Account("sales:x", "销售", Kind.REVENUE, stripes=0)
    hot = [clearing(ST, m) for m in (Method.STORED_VALUE, Method.IC_CARD, Method.POINTS)]
    hot += [POINTS_ISSUED, POINTS_EXPIRED, POINTS_REDEEMED, RECHARGE_BONUS, POINTS_REDEMPTION, CARD_OVERDRAFT]
    assert all(a.stripes == HOT and a.may_go_negative for a in hot)
    # a station's own channels and its sales stay on one row (one consumer per station posts them, in order)
    assert clearing(ST, Method.WECHAT).stripes == clearing(ST, Method.BANK_CARD).stripes == 1
    assert payment_entry(stored_value_payment(100)).postings[1].account.stripes == 1
