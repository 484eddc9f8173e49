"""The one rule of who a recognised plate attaches (business_services/drive_through/model.py), and its window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from business_services.drive_through import model
from telemetry.contracts.members import ListedMember

CARD = "6222000011112222"


def member(**changes: object) -> ListedMember:
    values: dict[str, object] = {"member_no": "M00000001", "name_masked": "张*", "phone_masked": "138****8000",
                                 "phone_digest": "0" * 64, "level": "gold", "level_name": "金卡",
                                 "plates": ("京A12345",)}
    return ListedMember.model_validate(values | changes)


def test_the_rule_names_why_a_plate_attaches_nobody() -> None:
    opted = member(drive_through="stored_value", drive_through_card_no=CARD)
    assert model.refusal([opted], 0.95, 0.9) is None
    assert model.refusal([], 0.95, 0.9) == model.NOT_A_MEMBER
    assert model.refusal([opted, opted], 0.95, 0.9) == model.NOT_A_MEMBER
    assert model.refusal([opted], 0.80, 0.9) == model.UNCERTAIN
    assert model.refusal([member()], 0.95, 0.9) == model.NOT_OPTED_IN
    assert model.refusal([member(drive_through="stored_value")], 0.95, 0.9) == model.NO_CARD
    assert model.refusal([member(drive_through="stored_value", drive_through_card_no=CARD, status="frozen")],
                         0.95, 0.9) == model.NOT_ACTIVE


def test_an_attachment_lapses_after_its_window_and_old_lists_read_as_off() -> None:
    at = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)
    assert model.expires(at, 10) == at + timedelta(minutes=10)
    assert member().drive_through == "off" and member().drive_through_card_no is None


@pytest.mark.parametrize(("answer", "minutes_past", "outcome"), [
    ("confirmed", -5, ("due", "")), ("confirmed", 5, ("due", "")),       # confirmed in time, asked late: paid
    ("declined", -5, ("cashier", model.DECLINED)),
    ("awaiting", -5, None), (None, -5, None),                             # no answer yet: it waits
    ("awaiting", 1, ("cashier", model.UNANSWERED)), (None, 1, ("cashier", model.UNANSWERED))])
def test_an_awaiting_order_is_paid_when_confirmed_and_goes_to_the_cashier_when_declined_or_unanswered(
        answer: str | None, minutes_past: int, outcome: tuple[str, str] | None) -> None:
    expires = datetime(2026, 12, 5, 9, 10, tzinfo=UTC)
    assert model.settled(answer, expires + timedelta(minutes=minutes_past), expires) == outcome
