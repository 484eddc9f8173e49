"""Notification rules (business_services/notifications/model.py): which routes an alarm goes through, when each
step is due, when an escalation still sends, the retry back-off, and masking."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from business_services.notifications.model import (
    CATCH_UP,
    MAX_ATTEMPTS,
    AlarmFacts,
    InvalidRoute,
    Route,
    Step,
    due_at,
    gives_up,
    mask_address,
    mask_phone,
    matches,
    retry_after_s,
    routes_for,
    step_sends,
)
from telemetry.contracts.events.alarms import AlarmState, Priority

SMS = Step(0, "sms", contacts=(1,))
RAISED = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)


def alarm(**changes: object) -> AlarmFacts:
    fields: dict[str, object] = {"station": "demo-01", "rule": "gas.level2", "area": "加油区",
                                 "priority": Priority.URGENT, "raised_at": RAISED}
    return AlarmFacts(**(fields | changes))  # type: ignore[arg-type]


def route(**changes: object) -> Route:
    fields: dict[str, object] = {"id": 1, "name": "r", "steps": (SMS,)}
    return Route(**(fields | changes))  # type: ignore[arg-type]


@pytest.mark.parametrize(("the_route", "the_alarm", "expected"), [
    (route(), alarm(), True),                                                   # no filter: everything but journal
    (route(), alarm(priority=Priority.JOURNAL), False),                          # journal alarms are never sent
    (route(min_priority=Priority.HIGH), alarm(priority=Priority.URGENT), True),  # more urgent than asked
    (route(min_priority=Priority.HIGH), alarm(priority=Priority.HIGH), True),
    (route(min_priority=Priority.HIGH), alarm(priority=Priority.MEDIUM), False),
    (route(station="demo-01"), alarm(), True),
    (route(station="demo-02"), alarm(), False),
    (route(area="加油区"), alarm(), True),
    (route(area="油罐区"), alarm(), False),
    (route(rule="gas.*"), alarm(), True),
    (route(rule="gas.*"), alarm(rule="tank.height.low"), False),
    (route(rule="gas.level2"), alarm(rule="gas.level2"), True),
    (route(rule="gas.level"), alarm(rule="gas.level2"), False),                  # a code is matched whole
    (route(enabled=False), alarm(), False),
])
def test_which_alarms_a_route_takes(the_route: Route, the_alarm: AlarmFacts, expected: bool) -> None:
    assert matches(the_route, the_alarm) is expected


def test_an_alarm_goes_through_every_matching_route() -> None:
    station, region, tanks = route(id=1, station="demo-01"), route(id=2), route(id=3, rule="tank.*")
    assert [r.id for r in routes_for([station, region, tanks], alarm())] == [1, 2]


def test_each_step_is_due_its_minutes_after_the_raise() -> None:
    the_alarm = alarm()
    assert due_at(the_alarm, Step(0, "sms", (1,))) == RAISED
    assert due_at(the_alarm, Step(5, "sms", (1,))) == RAISED + timedelta(minutes=5)
    assert due_at(the_alarm, Step(0.5, "sms", (1,))) == RAISED + timedelta(seconds=30)
    assert due_at(the_alarm, Step(5, "sms", (1,)), now=RAISED + timedelta(seconds=2)) == RAISED + timedelta(minutes=5)


def test_a_raise_that_arrives_late_waits_for_what_followed_it() -> None:
    """A station's uplink was down: its raise reaches head office an hour late, the acknowledgement after it."""
    late = RAISED + timedelta(hours=1)
    assert due_at(alarm(), Step(0, "sms", (1,)), now=late) == late + CATCH_UP
    assert due_at(alarm(), Step(5, "sms", (1,)), now=late) == late + CATCH_UP
    assert due_at(alarm(), Step(120, "sms", (1,)), now=late) == RAISED + timedelta(minutes=120)   # still ahead


@pytest.mark.parametrize(("state", "active", "first", "escalation"), [
    (AlarmState.UNACKNOWLEDGED, True, True, True),              # nobody has seen it: escalate
    (AlarmState.ACKNOWLEDGED, True, True, False),               # seen: no escalation
    (AlarmState.RETURNED_UNACKNOWLEDGED, False, True, False),   # the condition cleared: no one to call out
    (AlarmState.NORMAL, False, False, False),                   # acknowledged and cleared: already over
    (AlarmState.SHELVED, True, False, False),                   # a person took it out of the list
    (AlarmState.SUPPRESSED, True, False, False),
    (AlarmState.OUT_OF_SERVICE, True, False, False),
])
def test_when_a_step_still_sends(state: AlarmState, active: bool, first: bool, escalation: bool) -> None:
    assert step_sends(0, state, active) is first
    assert step_sends(1, state, active) is escalation
    assert step_sends(3, state, active) is escalation


def test_retries_back_off_doubling_to_a_cap_and_give_up() -> None:
    assert [retry_after_s(n) for n in (1, 2, 3, 4)] == [5.0, 10.0, 20.0, 40.0]
    assert retry_after_s(20) == 600.0
    assert not gives_up(1, retryable=True)
    assert gives_up(MAX_ATTEMPTS, retryable=True)
    assert gives_up(1, retryable=False)                          # an invalid number is not tried again


@pytest.mark.parametrize(("steps", "complaint"), [
    ((), "1 to 5 steps"),
    ((SMS,) * 6, "1 to 5 steps"),
    ((Step(5, "sms", (1,)), Step(5, "sms", (2,))), "later than the one before"),
    ((Step(10, "sms", (1,)), Step(5, "sms", (2,))), "later than the one before"),
])
def test_a_route_with_bad_steps_is_refused(steps: tuple[Step, ...], complaint: str) -> None:
    with pytest.raises(InvalidRoute, match=complaint):
        route(steps=steps)


@pytest.mark.parametrize(("make", "complaint"), [
    (lambda: Step(0, "fax", (1,)), "channel must be one of"),
    (lambda: Step(-1, "sms", (1,)), "0–1440"),
    (lambda: Step(float("nan"), "sms", (1,)), "0–1440"),
    (lambda: Step(2000, "sms", (1,)), "0–1440"),
    (lambda: Step(0, "sms"), "needs contacts or groups"),
    (lambda: Step(0, "webhook"), "needs webhook_url"),
    (lambda: Step(0, "webhook", webhook_url="ftp://x"), "needs webhook_url"),
])
def test_a_bad_step_is_refused(make: object, complaint: str) -> None:
    with pytest.raises(InvalidRoute, match=complaint):
        make()  # type: ignore[operator]


def test_personal_data_is_masked() -> None:
    assert mask_phone("13812345678") == "138****5678"
    assert mask_address("sms", "13812345678") == "138****5678"
    assert mask_address("wechat", "oAbCdEfGhIjKlMnOp") == "oAbC…"
    assert mask_address("webhook", "https://hooks.example/x") == "https://hooks.example/x"
