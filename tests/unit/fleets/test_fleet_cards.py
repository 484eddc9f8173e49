"""The pure rules of fleet cards (business_services/fleets/cards.py): the number (prefix, enterprise, serial, Luhn),
which status an action leads to and from which, and a card's hours given both or neither, in order."""

from __future__ import annotations

import pytest

from business_services.cards.model import luhn_valid
from business_services.fleets.cards import CardRules, FleetError, FleetRefused, fleet_card_no, next_status


def test_a_fleet_card_number_names_its_enterprise_and_serial_and_checks_itself() -> None:
    number = fleet_card_no("E000321", 7)
    assert number[:4] == "9100" and number[4:10] == "000321" and number[10:15] == "00007" and len(number) == 16
    assert luhn_valid(number)
    assert fleet_card_no("E000321", 8) != number
    with pytest.raises(FleetError, match="卡号已用完"):
        fleet_card_no("E000321", 100_000)


@pytest.mark.parametrize(("status", "action", "after"), [
    ("active", "freeze", "frozen"), ("frozen", "unfreeze", "active"), ("active", "lost", "lost"),
    ("frozen", "lost", "lost"), ("lost", "close", "closed"), ("active", "close", "closed")])
def test_an_action_moves_a_card_to_its_status(status: str, action: str, after: str) -> None:
    assert next_status(status, action) == after


@pytest.mark.parametrize(("status", "action"), [("frozen", "freeze"), ("active", "unfreeze"), ("lost", "unfreeze"),
                                                ("lost", "lost"), ("closed", "close"), ("closed", "unfreeze")])
def test_an_action_that_does_not_apply_is_refused_with_the_status(status: str, action: str) -> None:
    with pytest.raises(FleetRefused, match="卡状态为"):
        next_status(status, action)


def test_hours_are_both_or_neither_and_in_order() -> None:
    assert CardRules(hours_from=6, hours_to=22).columns()["hours_to"] == 22
    assert CardRules(grades=(92,)).columns()["grades"] == [92]
    with pytest.raises(FleetError, match="同时填写"):
        CardRules(hours_from=6)
    with pytest.raises(FleetError, match="晚于开始"):
        CardRules(hours_from=22, hours_to=6)
