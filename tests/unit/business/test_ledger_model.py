"""Double entry as pure rules: an entry balances per unit, and each station event posts what it should."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from business_services.ledger.model import (
    Account,
    Entry,
    Kind,
    LedgerError,
    Posting,
    Unit,
    payment_entry,
    refund_entry,
)
from telemetry.contracts.events.payments import Allocation, Method, PaymentCaptured, PaymentRefunded

NOW = datetime(2026, 12, 4, 8, tzinfo=UTC)
CASH = Account("drawer:st-01:S1", "钱箱", Kind.ASSET)
SALES = Account("sales:st-01", "销售", Kind.REVENUE)
POINTS = Account("points:m1", "积分", Kind.LIABILITY, unit=Unit.POINT)
POINTS_ISSUED = Account("points:issued", "积分发放", Kind.EXPENSE, unit=Unit.POINT)


def entry(*postings: Posting) -> Entry:
    return Entry("k", "test", "ref", NOW, postings)


def test_an_entry_balances_per_unit() -> None:
    entry(Posting(CASH, 500), Posting(SALES, -500), Posting(POINTS_ISSUED, 5), Posting(POINTS, -5))
    with pytest.raises(LedgerError, match="sum to zero"):
        entry(Posting(CASH, 500), Posting(SALES, -499))
    with pytest.raises(LedgerError, match="sum to zero"):   # fen and points never offset each other
        entry(Posting(CASH, 5), Posting(POINTS, -5))


def test_an_entry_needs_two_distinct_non_zero_postings() -> None:
    for postings in [(Posting(CASH, 0), Posting(SALES, 0)), (Posting(CASH, 1),),
                     (Posting(CASH, 1), Posting(CASH, -1))]:
        with pytest.raises(LedgerError):
            entry(*postings)


def captured(method: Method, fen: int, no: str = "st-01-20261204-P00001") -> PaymentCaptured:
    return PaymentCaptured(payment_no=no, station="st-01", shift_no="st-01-20261204-S00001", terminal="pos-1",
                           cashier="c", method=method, amount_fen=fen,
                           allocations=(Allocation(order_no="st-01-20261204-O00001", amount_fen=fen),),
                           captured_at=NOW)


def test_cash_goes_to_the_shifts_drawer_and_the_rest_to_the_channel() -> None:
    cash = payment_entry(captured(Method.CASH, 29000))
    assert {p.account.code: p.amount for p in cash.postings} == {
        "drawer:st-01:st-01-20261204-S00001": 29000, "sales:st-01": -29000}
    wechat = payment_entry(captured(Method.WECHAT, 100))
    assert {p.account.code: p.amount for p in wechat.postings} == {"clearing:wechat:st-01": 100, "sales:st-01": -100}


def test_a_refund_reverses_into_the_same_accounts() -> None:
    refund = refund_entry(PaymentRefunded(
        refund_no="st-01-20261204-R00001", payment_no="st-01-20261204-P00001", station="st-01",
        shift_no="st-01-20261204-S00001", method=Method.CASH, amount_fen=700,
        allocations=(Allocation(order_no="st-01-20261204-O00001", amount_fen=700),), reason="多收",
        refunded_by="m", refunded_at=NOW))
    assert {p.account.code: p.amount for p in refund.postings} == {
        "drawer:st-01:st-01-20261204-S00001": -700, "sales:st-01": 700}


@given(st.lists(st.tuples(st.sampled_from(list(Method)), st.integers(1, 10**9)), min_size=1, max_size=30))
def test_any_day_of_payments_sums_to_zero(payments: list[tuple[Method, int]]) -> None:
    postings = [p for i, (method, fen) in enumerate(payments)
                for p in payment_entry(captured(method, fen, f"st-01-20261204-P{i:05d}")).postings]
    assert sum(p.amount for p in postings) == 0
    assert -sum(p.amount for p in postings if p.account.code == "sales:st-01") == sum(fen for _, fen in payments)
