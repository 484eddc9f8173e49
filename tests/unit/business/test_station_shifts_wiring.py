"""Only head office keeps the station-shift copies and reconciles them; the station's own shifts stay there."""

from __future__ import annotations

from business_services.bootstrap import build_bus
from business_services.station_shifts import handlers
from business_services.station_shifts.model import ReconcileShift
from forecourt.roles import Role, policy
from telemetry.contracts.events.payments import PAYMENT_CAPTURED, PAYMENT_REFUNDED
from telemetry.contracts.events.shifts import SHIFT_CLOSED, SHIFT_OPENED


def test_head_office_reconciles_and_the_station_does_not() -> None:
    head_office, station = build_bus(policy(Role.HEAD_OFFICE).contexts), build_bus(policy(Role.STATION).contexts)
    assert head_office.commands[ReconcileShift] is handlers.reconcile_shift
    assert ReconcileShift not in station.commands
    for kind, handler in [(SHIFT_OPENED, handlers.copy_opened), (SHIFT_CLOSED, handlers.copy_closed),
                          (PAYMENT_CAPTURED, handlers.count_payment), (PAYMENT_REFUNDED, handlers.count_refund)]:
        assert handler in head_office.events[kind], kind
        assert handler not in station.events.get(kind, []), kind
