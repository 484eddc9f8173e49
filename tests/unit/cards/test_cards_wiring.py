"""Head office settles the stations' stored-value events and answers card commands; a station server does neither
(its cards are head office's: it asks over HTTP and keeps only the member list)."""

from __future__ import annotations

from business_services.approvals import registry
from business_services.bootstrap import build_bus
from business_services.cards.commands import IssueCards, PayByCard, Recharge
from business_services.cards.payments import payment_captured, payment_refunded
from forecourt.roles import Role, policy
from telemetry.contracts.events.payments import PaymentCaptured, PaymentRefunded


def test_head_office_alone_holds_the_cards_handlers() -> None:
    head_office, station = build_bus(policy(Role.HEAD_OFFICE).contexts), build_bus(policy(Role.STATION).contexts)
    assert payment_captured in head_office.events[PaymentCaptured.TYPE]
    assert payment_refunded in head_office.events[PaymentRefunded.TYPE]
    assert {PayByCard, Recharge, IssueCards} <= head_office.commands.keys()
    assert payment_captured not in station.events.get(PaymentCaptured.TYPE, [])
    assert not station.commands.keys() & {PayByCard, Recharge, IssueCards}


def test_the_approval_kinds_are_registered_with_the_card_write_rule() -> None:
    for name in ("card.report_loss", "card.unlock", "card.replace", "card.transfer"):
        assert registry.kind_of(name).rule.permission == "card:write"
