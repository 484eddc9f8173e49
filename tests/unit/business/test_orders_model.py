"""The orders context's pure rules: which status an action starts from, the POS lock, payments, commands."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from business_services.orders.model import (
    LOCK_TTL,
    CreateOrder,
    Due,
    EditOrder,
    OrderConflict,
    OrderKind,
    OrderRuleError,
    Status,
    Tag,
    apply,
    check_action,
    check_lock,
)

NOW = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)


def test_an_order_in_another_terminals_hand_is_refused_until_its_lock_expires() -> None:
    until = NOW + LOCK_TTL
    check_lock("o-1", "payable", None, None, "pos-2", NOW)
    check_lock("o-1", "payable", "pos-1", until, "pos-1", NOW)              # the same terminal renews
    with pytest.raises(OrderConflict, match="订单正在 pos-1 收款"):
        check_lock("o-1", "payable", "pos-1", until, "pos-2", NOW)
    check_lock("o-1", "payable", "pos-1", until, "pos-2", until)            # expired: taken over
    with pytest.raises(OrderConflict, match="挂单"):
        check_lock("o-1", "held", None, None, "pos-1", NOW)


@pytest.mark.parametrize(("action", "allowed"), [
    ("hold", {Status.PAYABLE}), ("release", {Status.HELD}), ("write_off", {Status.HELD}),
    ("approve_make_up", {Status.PENDING_APPROVAL}), ("pay", {Status.PAYABLE})])
def test_each_action_starts_from_its_statuses_only(action: str, allowed: set[Status]) -> None:
    for status in Status:
        if status in allowed:
            check_action(action, "o-1", status)
        else:
            with pytest.raises(OrderConflict):
                check_action(action, "o-1", status)


def test_payments_never_exceed_what_is_owed_and_refunds_never_what_was_paid() -> None:
    due = Due("o-1", 1000, 400)
    assert apply(due, 600) == 1000 and apply(due, -400) == 0
    with pytest.raises(OrderRuleError):
        apply(due, 601)
    with pytest.raises(OrderRuleError):
        apply(due, -401)
    with pytest.raises(OrderRuleError):                                    # a held order takes no payment …
        apply(Due("o-1", 1000, 0, status=Status.HELD), 100)
    assert apply(Due("o-1", 1000, 400, status=Status.WRITTEN_OFF), -100) == 300   # … but a refund goes back


def test_a_make_up_order_must_add_up_and_a_manual_sale_names_its_goods() -> None:
    made = CreateOrder("st-01", OrderKind.MAKE_UP, 23400, "断电", 2, 95, Decimal("30.00"), 780)
    assert made.first_status == Status.PENDING_APPROVAL
    assert CreateOrder("st-01", OrderKind.MAKE_UP, 23401, "断电", 2, 95, Decimal("30.00"), 780)  # within 1 fen
    with pytest.raises(OrderRuleError, match="volume_l"):
        CreateOrder("st-01", OrderKind.MAKE_UP, 23500, "断电", 2, 95, Decimal("30.00"), 780)
    with pytest.raises(OrderRuleError, match="nozzle"):
        CreateOrder("st-01", OrderKind.MAKE_UP, 23400, "断电")
    assert CreateOrder("st-01", OrderKind.MANUAL, 6800, "非油品", item="润滑油").first_status == Status.PAYABLE
    with pytest.raises(OrderRuleError, match="item"):
        CreateOrder("st-01", OrderKind.MANUAL, 6800, "非油品")
    with pytest.raises(OrderRuleError):
        CreateOrder("st-01", OrderKind.FUELLING, 6800, "x", item="y")
    with pytest.raises(OrderRuleError):
        CreateOrder("st-01", OrderKind.MANUAL, 0, "x", item="y")


def test_tags_and_edits() -> None:
    assert Tag("滴滴", 605).amount_fen == 605
    with pytest.raises(OrderRuleError):
        Tag("", 1)
    with pytest.raises(OrderRuleError):
        Tag("滴滴", -1)
    with pytest.raises(OrderRuleError):
        EditOrder("st-01", "o-1")
    with pytest.raises(OrderRuleError):
        EditOrder("st-01", "o-1", (Tag("滴滴"), Tag("滴滴", 1)))
    assert EditOrder("st-01", "o-1", note="").note == ""
    assert Due("o", 1, 0, "pos-1", NOW).takeable_by("pos-2", NOW + timedelta(seconds=1))
