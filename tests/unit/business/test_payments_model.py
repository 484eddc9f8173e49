"""The payments context's pure rules: how tenders go to orders, where a refund goes back, when it waits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from business_services.orders.model import Due
from business_services.payments.model import (
    PaymentRuleError,
    Tender,
    allocate,
    needs_approval,
    refund_allocations,
    refundable,
)
from telemetry.contracts.events.payments import Method

NOW = datetime(2026, 12, 4, 8, tzinfo=UTC)
A, B, C = "demo-01-20261204-O00001", "demo-01-20261204-O00002", "demo-01-20261204-O00003"


def dues(*owed: tuple[str, int]) -> dict[str, Due]:
    return {no: Due(no, fen, 0) for no, fen in owed}


def cash(fen: int) -> Tender:
    return Tender(Method.CASH, fen)


def test_a_split_payment_fills_one_order_tender_by_tender() -> None:
    shares = allocate([A], dues((A, 10000)), {}, [cash(6000), Tender(Method.BANK_CARD, 4000, reference="88")],
                      "pos-1", NOW)
    assert [s.allocations for s in shares] == [((A, 6000),), ((A, 4000),)]


def test_a_merged_payment_goes_to_the_orders_in_order() -> None:
    [share] = allocate([B, A, C], dues((A, 1000), (B, 2000), (C, 3000)), {}, [cash(4500)], "pos-1", NOW)
    assert share.allocations == ((B, 2000), (A, 1000), (C, 1500))


def test_reservations_of_pending_payments_count_as_taken() -> None:
    with pytest.raises(PaymentRuleError, match="超过"):
        allocate([A], dues((A, 10000)), {A: 6001}, [cash(4000)], "pos-1", NOW)
    [share] = allocate([A], dues((A, 10000)), {A: 6000}, [cash(4000)], "pos-1", NOW)
    assert share.allocations == ((A, 4000),)


def test_an_order_another_terminal_holds_is_refused_until_its_lock_ends() -> None:
    held = {A: Due(A, 1000, 0, "pos-2", NOW + timedelta(seconds=30))}
    with pytest.raises(PaymentRuleError, match="pos-2"):
        allocate([A], held, {}, [cash(1000)], "pos-1", NOW)
    assert allocate([A], held, {}, [cash(1000)], "pos-1", NOW + timedelta(minutes=1))


@pytest.mark.parametrize(("order_nos", "tenders", "words"), [
    ([A], [Tender(Method.BANK_CARD, 100)], "参考号"),
    ([A], [Tender(Method.OTHER, 100, note=" ")], "滴滴"),
    ([A], [cash(0)], "大于 0"),
    ([A, A], [cash(100)], "一次"),
    ([], [cash(100)], "请选择"),
    (["demo-01-20261204-O00099"], [cash(100)], "没有订单"),
])
def test_bad_requests_are_refused_with_what_to_do(order_nos: list[str], tenders: list[Tender], words: str) -> None:
    with pytest.raises(PaymentRuleError, match=words):
        allocate(order_nos, dues((A, 1000)), {}, tenders, "pos-1", NOW)


def test_a_refund_goes_back_from_the_last_order_and_never_beyond_what_is_left() -> None:
    allocations = [(A, 3000, 0), (B, 2000, 500)]
    assert refund_allocations(allocations, 2000) == [(B, 1500), (A, 500)]
    with pytest.raises(PaymentRuleError, match="4500"):
        refund_allocations(allocations, 4501)


def test_what_can_be_refunded_and_when_it_waits_for_approval() -> None:
    assert refundable(10000, 3000, "succeeded") == 7000
    assert refundable(10000, 0, "pending") == 0
    assert not needs_approval(20000) and needs_approval(20001)
