"""The pure rules of fleet enterprises (business_services/fleets/model.py)."""

from __future__ import annotations

import pytest

from business_services.fleets.model import (
    FleetError,
    FleetRefused,
    Status,
    check_close,
    check_credit,
    check_money_movement,
    check_status_change,
    code_of,
    over_warning,
    split_edit,
)


def test_codes_are_e_and_six_digits_in_order() -> None:
    assert [code_of(n) for n in (1, 2, 999_999)] == ["E000001", "E000002", "E999999"]
    with pytest.raises(FleetRefused):
        code_of(1_000_000)


def test_an_edit_splits_into_what_applies_now_and_what_waits_for_review() -> None:
    before = {"name": "甲", "warn_pct": 80, "credit_limit_fen": 100, "settlement": "credit", "statement_day": 1}
    now, reviewed = split_edit(before, {"name": "乙", "warn_pct": 80, "credit_limit_fen": 200, "statement_day": 5})
    assert now == {"name": "乙"} and reviewed == {"credit_limit_fen": 200, "statement_day": 5}
    assert split_edit(before, {"name": "甲"}) == ({}, {})
    with pytest.raises(FleetError) as refused:
        split_edit(before, {"status": "frozen"})
    assert refused.value.field == "status"


def test_status_changes_name_their_kind_and_a_closed_enterprise_stays_closed() -> None:
    assert check_status_change(Status.NORMAL, Status.FROZEN) == "freeze"
    assert check_status_change(Status.FROZEN, Status.NORMAL) == "unfreeze"
    assert check_status_change(Status.FROZEN, Status.CLOSED) == "close"
    for current, wanted in ((Status.FROZEN, Status.FROZEN), (Status.CLOSED, Status.NORMAL)):
        with pytest.raises(FleetRefused):
            check_status_change(current, wanted)


def test_a_credit_line_belongs_to_credit_settlement_only() -> None:
    check_credit("prepaid", 0)
    check_credit("credit", 1)
    for settlement, limit in (("prepaid", 100), ("credit", 0)):
        with pytest.raises(FleetError):
            check_credit(settlement, limit)


def test_money_moves_only_for_an_approved_open_enterprise() -> None:
    check_money_movement("normal", "approved")
    check_money_movement("frozen", "approved")
    for state, review in (("normal", "pending"), ("normal", "rejected"), ("closed", "approved")):
        with pytest.raises(FleetRefused):
            check_money_movement(state, review)


def test_the_over_limit_warning_starts_at_warn_pct_of_the_line() -> None:
    assert not over_warning(79_999, 100_000, 80)
    assert over_warning(80_000, 100_000, 80)
    assert over_warning(120_000, 100_000, 100)
    assert not over_warning(0, 0, 80) and over_warning(1, 0, 80)     # no line: any debt is over it


def test_an_enterprise_closes_only_with_nothing_left_and_nothing_owed() -> None:
    check_close({"prepaid_fen": 0, "gift_fen": 0, "debt_fen": 0, "remaining_credit_fen": 5})
    for left in ({"prepaid_fen": 1}, {"gift_fen": 1}, {"debt_fen": 1}):
        with pytest.raises(FleetRefused):
            check_close({"prepaid_fen": 0, "gift_fen": 0, "debt_fen": 0} | left)
