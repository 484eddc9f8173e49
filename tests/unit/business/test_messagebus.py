"""The message bus: one handler per command, any number per event, raised events handled after their raiser."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from business_services.bootstrap import build_bus
from business_services.fuelling.model import SettleGap
from business_services.messagebus import MessageBus
from business_services.notifications.handlers import on_alarm_transition
from business_services.prices.handlers import RequestPriceChange
from forecourt.roles import Role, policy
from telemetry.contracts.events import CloudEvent
from telemetry.contracts.events.fuelling import LEGACY_FUELING_COMPLETED, FuellingCompleted, FuellingGap
from telemetry.contracts.events.gas import GasFillCompleted
from telemetry.contracts.prices import PRICE_APPLIED


class FakeUnitOfWork:
    def __init__(self) -> None:
        self.raised: list[CloudEvent] = []
        self.log: list[str] = []

    def raise_event(self, event: CloudEvent) -> None:
        self.raised.append(event)

    def take_raised(self) -> list[CloudEvent]:
        raised, self.raised = self.raised, []
        return raised


@dataclass(frozen=True)
class OpenShift:
    station: str


def event(kind: str) -> CloudEvent:
    return CloudEvent(source="test", type=kind, data={})


async def test_a_command_goes_to_its_handler_and_its_raised_events_follow_in_order() -> None:
    async def open_shift(command: OpenShift, uow: Any) -> int:
        uow.log.append(f"open {command.station}")
        uow.raise_event(event("shift.opened"))
        uow.raise_event(event("drawer.counted"))
        return 7

    async def on_opened(message: CloudEvent, uow: Any) -> None:
        uow.log.append(f"first {message.type}")
        uow.raise_event(event("report.due"))        # raised by a follow-up: handled after the queue before it

    async def also_on_opened(message: CloudEvent, uow: Any) -> None:
        uow.log.append(f"second {message.type}")

    async def on_any(message: CloudEvent, uow: Any) -> None:
        uow.log.append(message.type)

    bus = MessageBus({OpenShift: open_shift}, {"shift.opened": [on_opened, also_on_opened],
                                               "drawer.counted": [on_any], "report.due": [on_any]})
    uow = FakeUnitOfWork()
    assert await bus.handle(OpenShift("st-01"), uow) == 7
    assert uow.log == ["open st-01", "first shift.opened", "second shift.opened", "drawer.counted", "report.due"]


async def test_an_event_nobody_handles_is_fine_a_command_nobody_handles_is_a_mistake() -> None:
    bus = MessageBus()
    assert not bus.handles(event("alarm.raised"))
    assert await bus.handle(event("alarm.raised"), FakeUnitOfWork()) is None
    with pytest.raises(LookupError, match="OpenShift"):
        await bus.handle(OpenShift("st-01"), FakeUnitOfWork())


def test_the_business_bus_has_every_context_handler_and_both_fuelling_spellings() -> None:
    bus = build_bus()
    for kind in (FuellingCompleted.TYPE, LEGACY_FUELING_COMPLETED, FuellingGap.TYPE, GasFillCompleted.TYPE):
        assert bus.handles(event(kind)), kind
    assert SettleGap in bus.commands
    assert bus.events[FuellingCompleted.TYPE] == bus.events[LEGACY_FUELING_COMPLETED]


def test_head_office_hears_the_stations_price_reports() -> None:
    assert build_bus(policy(Role.HEAD_OFFICE).contexts).handles(event(PRICE_APPLIED))
    assert not build_bus(policy(Role.STATION).contexts).commands.keys() & {RequestPriceChange}


def test_head_office_alone_sends_alarm_notifications() -> None:
    head_office, station = build_bus(policy(Role.HEAD_OFFICE).contexts), build_bus(policy(Role.STATION).contexts)
    for kind in ("alarm.raised", "alarm.acknowledged", "alarm.returned", "alarm.shelved", "alarm.out_of_service"):
        assert on_alarm_transition in head_office.events[kind], kind
        assert on_alarm_transition not in station.events.get(kind, []), kind
    assert on_alarm_transition not in head_office.events.get("alarm.escalated", [])   # its own record


def test_head_office_awards_points_after_keeping_the_order_copy() -> None:
    from business_services.points import handlers as points
    from business_services.station_orders import handlers as station_orders
    head_office, station = build_bus(policy(Role.HEAD_OFFICE).contexts), build_bus(policy(Role.STATION).contexts)
    changed = head_office.events["order.changed"]
    assert changed.index(station_orders.keep_changed) < changed.index(points.order_changed)
    assert points.payment_refunded in head_office.events["payment.refunded"]
    assert points.order_changed not in station.events.get("order.changed", [])
