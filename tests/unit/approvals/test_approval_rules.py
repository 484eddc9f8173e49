"""Who may decide an approval request, and when it has expired (business_services/approvals/model.py)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from business_services.approvals.model import (
    APPROVED,
    EXPIRED,
    PENDING,
    ApprovalRequest,
    Approver,
    NotAllowed,
    NotPending,
    Rule,
    check_decision,
    reject_comment,
    state,
)

NOW = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
RULE = Rule("price:approve")
REQUEST = ApprovalRequest(uuid.uuid4(), "price.change", "demo-01", "92# 调价", {"grade": 92}, "zhang.san", 7, PENDING,
                          NOW - timedelta(hours=1), NOW + timedelta(hours=1))
BOSS = Approver("li.si", frozenset({"price:approve"}), None)


def test_a_pending_request_past_its_expiry_is_expired() -> None:
    assert state(REQUEST, NOW) == PENDING
    assert state(REQUEST, REQUEST.expires_at) == EXPIRED
    assert state(replace(REQUEST, status=APPROVED), REQUEST.expires_at + timedelta(days=1)) == APPROVED


def test_an_approver_with_the_permission_and_the_station_may_decide() -> None:
    check_decision(RULE, REQUEST, BOSS, NOW)
    check_decision(RULE, REQUEST, replace(BOSS, stations=frozenset({"demo-01"})), NOW)


@pytest.mark.parametrize(("who", "why"), [
    (Approver("zhang.san", frozenset({"price:approve"}), None), "自己"),                 # the requester
    (Approver("wang.wu", frozenset({"refund:approve"}), None), "price:approve"),         # lacks the permission
    (Approver("wang.wu", frozenset({"price:approve"}), frozenset({"demo-02"})), "范围"),   # another station
])
def test_others_may_not(who: Approver, why: str) -> None:
    with pytest.raises(NotAllowed, match=why):
        check_decision(RULE, REQUEST, who, NOW)


def test_a_company_wide_request_needs_an_approver_of_every_station() -> None:
    company = replace(REQUEST, station=None)
    with pytest.raises(NotAllowed):
        check_decision(RULE, company, replace(BOSS, stations=frozenset({"demo-01"})), NOW)
    check_decision(RULE, company, BOSS, NOW)


def test_expired_or_decided_requests_are_not_decided_again() -> None:
    with pytest.raises(NotPending, match="过期"):
        check_decision(RULE, REQUEST, BOSS, REQUEST.expires_at)
    with pytest.raises(NotPending, match="approved"):
        check_decision(RULE, replace(REQUEST, status=APPROVED), BOSS, NOW)


def test_a_rejection_must_say_why() -> None:
    with pytest.raises(ValueError, match="原因"):
        reject_comment("  ")
    assert reject_comment(" 价格过高 ") == "价格过高"
