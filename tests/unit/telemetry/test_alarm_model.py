"""The alarm model, pure: limits with deadband, on/off delays, rate of change, discrete, comm-loss, the ISA-18.2
life cycle, shelving expiry, suppression by design, out of service, and where a station is evaluated."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from telemetry.alarms.model import (
    Action,
    ActionRefused,
    Condition,
    Kind,
    Rule,
    RuleError,
    Sample,
    Scope,
    act,
    evaluate,
    in_scope,
    scope_for,
)
from telemetry.contracts.events.alarms import AlarmState as S
from telemetry.contracts.events.alarms import Priority

T0 = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)
HIGH = Rule(1, "gas.level1", Kind.HIGH, Priority.HIGH, limit=25.0, deadband=2.0)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def run(rule: Rule, values: list[tuple[float, float]], cond: Condition | None = None,
        **sample: object) -> tuple[Condition, list[str]]:
    """Evaluate (seconds, value) samples in order; the event types made."""
    cond = cond or Condition()
    made: list[str] = []
    for seconds, value in values:
        cond, steps = evaluate(rule, cond, Sample(value=value, ts=at(seconds), **sample),  # type: ignore[arg-type]
                               at(seconds), uuid.uuid4())
        made += [s.event_type for s in steps]
    return cond, made


@pytest.mark.parametrize(("values", "events", "state"), [
    ([(0, 24.9)], [], S.NORMAL),
    ([(0, 25.0)], ["alarm.raised"], S.UNACKNOWLEDGED),
    ([(0, 26), (1, 24)], ["alarm.raised"], S.UNACKNOWLEDGED),                         # inside the deadband
    ([(0, 26), (1, 22.9)], ["alarm.raised", "alarm.returned"], S.RETURNED_UNACKNOWLEDGED),
    ([(0, 26), (1, 22.9), (2, 25.5)], ["alarm.raised", "alarm.returned", "alarm.raised"], S.UNACKNOWLEDGED),
])
def test_high_limit_with_deadband(values: list[tuple[float, float]], events: list[str], state: S) -> None:
    cond, made = run(HIGH, values)
    assert made == events and cond.state is state


def test_low_limit_and_its_deadband() -> None:
    low = Rule(2, "tank.low", Kind.LOW, Priority.MEDIUM, limit=300.0, deadband=20.0)
    cond, made = run(low, [(0, 299), (1, 315)])
    assert made == ["alarm.raised"] and cond.active           # 315 is inside 300 + 20
    cond, made = run(low, [(2, 321)], cond)
    assert made == ["alarm.returned"]


def test_on_delay_and_off_delay() -> None:
    rule = Rule(3, "r", Kind.HIGH, Priority.HIGH, limit=10.0, on_delay_s=5, off_delay_s=3)
    cond, made = run(rule, [(0, 11), (4, 11)])
    assert made == [] and cond.pending_since == at(0)
    cond, made = run(rule, [(5, 11)], cond)
    assert made == ["alarm.raised"]
    cond, made = run(rule, [(6, 5), (8, 5)], cond)
    assert made == [] and cond.active
    cond, made = run(rule, [(9, 5)], cond)
    assert made == ["alarm.returned"]


def test_a_blip_shorter_than_the_on_delay_raises_nothing() -> None:
    rule = Rule(3, "r", Kind.HIGH, Priority.HIGH, limit=10.0, on_delay_s=5)
    cond, made = run(rule, [(0, 11), (2, 9), (4, 11), (8, 11)])
    assert made == [] and cond.pending_since == at(4)


def test_rate_of_change_over_its_window() -> None:
    falling = Rule(4, "tank.rate", Kind.RATE, Priority.HIGH, limit=-20.0, window_s=60)
    cond, made = run(falling, [(0, 1000), (30, 990), (60, 985)])     # -15 mm/min
    assert made == []
    cond, made = run(falling, [(120, 950)], cond)                    # -35 mm/min
    assert made == ["alarm.raised"]


@pytest.mark.parametrize(("rule", "sample", "expected"), [
    (Rule(5, "atg", Kind.DISCRETE, Priority.HIGH, match_values=("leak", "overfill")),
     Sample(text="high-water-warning,leak"), True),
    (Rule(5, "atg", Kind.DISCRETE, Priority.HIGH, match_values=("leak",)), Sample(text="delivery-needed"), False),
    (Rule(5, "atg", Kind.DISCRETE, Priority.HIGH), Sample(text=""), False),
    (Rule(6, "disp", Kind.DISCRETE, Priority.MEDIUM, mask=4), Sample(value=5.0), True),
    (Rule(6, "disp", Kind.DISCRETE, Priority.MEDIUM, mask=4), Sample(value=3.0), False),
    (Rule(7, "chg", Kind.DISCRETE, Priority.MEDIUM, match_values=("Faulted",)), Sample(text="Faulted"), True),
    (Rule(8, "probe", Kind.BAD_QUALITY, Priority.HIGH), Sample(quality="bad"), True),
    (Rule(9, "comm", Kind.COMM_LOSS, Priority.HIGH), Sample(online=False), True),
    (Rule(9, "comm", Kind.COMM_LOSS, Priority.HIGH), Sample(stale=True), True),
    (Rule(9, "comm", Kind.COMM_LOSS, Priority.HIGH, limit=30), Sample(received_at=at(-31)), True),
    (Rule(9, "comm", Kind.COMM_LOSS, Priority.HIGH, limit=30), Sample(received_at=at(-29)), False),
])
def test_discrete_quality_and_comm_loss(rule: Rule, sample: Sample, expected: bool) -> None:
    cond, made = evaluate(rule, Condition(), sample, at(0), uuid.uuid4())
    assert (made != []) is expected and cond.active is expected


def test_bad_quality_neither_raises_nor_clears_a_limit_alarm() -> None:
    cond, _ = run(HIGH, [(0, 30)])
    cond, made = evaluate(HIGH, cond, Sample(value=None, quality="bad", ts=at(1)), at(1), uuid.uuid4())
    assert made == [] and cond.active


def test_life_cycle_acknowledge_then_return() -> None:
    cond, _ = run(HIGH, [(0, 30)])
    cond, step = act(cond, Action.ACKNOWLEDGE, at(1), "zhang", "已到现场")
    assert (step.state_from, step.state_to, step.seq, step.by) == (S.UNACKNOWLEDGED, S.ACKNOWLEDGED, 2, "zhang")
    with pytest.raises(ActionRefused):
        act(cond, Action.ACKNOWLEDGE, at(2), "zhang")
    cond, made = run(HIGH, [(3, 10)], cond)
    assert made == ["alarm.returned"] and cond.state is S.NORMAL and cond.alarm_id is None


def test_returned_unacknowledged_closes_on_acknowledgement() -> None:
    cond, _ = run(HIGH, [(0, 30), (1, 10)])
    cond, step = act(cond, Action.ACKNOWLEDGE, at(2), "li")
    assert step.state_to is S.NORMAL and cond.alarm_id is None
    with pytest.raises(ActionRefused):
        act(cond, Action.SHELVE, at(3), "li", shelve_for=timedelta(minutes=5))


def test_shelving_expires_back_to_unacknowledged_while_the_condition_stays() -> None:
    cond, _ = run(HIGH, [(0, 30)])
    cond, step = act(cond, Action.SHELVE, at(1), "wang", "传感器校准中", timedelta(seconds=60))
    assert step.shelved_until == at(61) and cond.state is S.SHELVED
    cond, made = run(HIGH, [(30, 31)], cond)
    assert made == []
    cond, made = run(HIGH, [(61, 31)], cond)
    assert made == ["alarm.unshelved"] and cond.state is S.UNACKNOWLEDGED


def test_shelved_alarm_whose_condition_cleared_closes_at_expiry() -> None:
    cond, _ = run(HIGH, [(0, 30)])
    cond, _ = act(cond, Action.SHELVE, at(1), "wang", "", timedelta(seconds=60))
    cond, made = run(HIGH, [(10, 5), (61, 5)], cond)
    assert made == ["alarm.unshelved"] and cond.state is S.NORMAL and cond.alarm_id is None


def test_suppression_by_design_during_a_delivery() -> None:
    low = Rule(2, "tank.low", Kind.LOW, Priority.MEDIUM, limit=300.0, during=("delivery",))
    cond, made = run(low, [(0, 250)], suppressed=True)
    assert made == [] and not cond.active              # not followed while suppressed with nothing open
    cond, made = run(low, [(1, 280)], cond, suppressed=False)
    assert made == ["alarm.raised"]                    # still low after the delivery: annunciated now
    cond, made = run(low, [(2, 290)], cond, suppressed=True)
    assert made == ["alarm.suppressed"] and cond.state is S.SUPPRESSED
    cond, made = run(low, [(3, 900)], cond, suppressed=False)
    assert made == ["alarm.unsuppressed"] and cond.state is S.NORMAL


def test_a_rise_during_a_delivery_is_not_raised_when_the_delivery_ends() -> None:
    rise = Rule(4, "tank.rise", Kind.RATE, Priority.HIGH, limit=20.0, window_s=60, during=("delivery",))
    cond, made = run(rise, [(0, 1000), (60, 1500), (120, 2000)], suppressed=True)
    assert made == []
    cond, made = run(rise, [(121, 2000), (180, 2001)], cond, suppressed=False)    # flat after the drop
    assert made == []


def test_an_open_rate_alarm_suppressed_by_a_delivery_is_not_stale_when_it_ends() -> None:
    rise = Rule(4, "tank.rise", Kind.RATE, Priority.HIGH, limit=20.0, window_s=60, during=("delivery",))
    cond, made = run(rise, [(0, 1000), (60, 1030)])                                  # +30 mm/min: raised
    assert made == ["alarm.raised"] and cond.active
    cond, made = run(rise, [(61, 1040), (120, 1500), (180, 2000)], cond, suppressed=True)
    assert made == ["alarm.suppressed"] and cond.state is S.SUPPRESSED
    cond, made = run(rise, [(181, 2000)], cond, suppressed=False)                    # the delivery's rise is gone
    assert made == ["alarm.unsuppressed"] and cond.state is S.NORMAL and not cond.active
    cond, made = run(rise, [(200, 2001), (241, 2002)], cond, suppressed=False)       # flat over a whole window
    assert made == [] and cond.state is S.NORMAL
    cond, made = run(rise, [(302, 2050)], cond, suppressed=False)                    # rising again: seen afresh
    assert made == ["alarm.raised"]


def test_a_rule_without_during_is_not_suppressed() -> None:
    low = Rule(2, "tank.low", Kind.LOW, Priority.MEDIUM, limit=300.0)
    _, made = run(low, [(0, 250)], suppressed=True)
    assert made == ["alarm.raised"]


def test_out_of_service_and_back() -> None:
    cond, _ = run(HIGH, [(0, 30)])
    cond, step = act(cond, Action.OUT_OF_SERVICE, at(1), "zhao", "探头更换")
    assert step.state_to is S.OUT_OF_SERVICE
    cond, made = run(HIGH, [(2, 10), (3, 40)], cond)
    assert made == []
    cond, step = act(cond, Action.IN_SERVICE, at(4), "zhao")
    assert step.state_to is S.UNACKNOWLEDGED


def test_journal_priority_never_annunciates() -> None:
    rule = Rule(10, "log", Kind.HIGH, Priority.JOURNAL, limit=1.0)
    _, made = run(rule, [(0, 5)])
    assert made == []


@pytest.mark.parametrize("kwargs", [dict(kind=Kind.HIGH), dict(kind=Kind.RATE, limit=0.0),
                                    dict(kind=Kind.LOW, limit=1.0, during=("lunch",))])
def test_rules_that_cannot_work_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(RuleError):
        Rule(1, "bad", priority=Priority.LOW, **kwargs)  # type: ignore[arg-type]


def test_one_place_decides_where_a_station_is_evaluated() -> None:
    servers = frozenset({"st-01"})
    uplink = Rule(1, "uplink", Kind.COMM_LOSS, Priority.HIGH, device="")
    gauge = Rule(2, "gauge", Kind.HIGH, Priority.HIGH, limit=1.0)
    # the station server: its own equipment, not its uplink; head office: the uplink only
    assert scope_for("station", "st-01", "st-01", servers) is Scope.ALL
    assert scope_for("head-office", "st-01", None, servers) is Scope.UPLINK
    assert scope_for("station", "st-02", "st-01", servers) is Scope.NONE
    assert scope_for("head-office", "st-02", None, servers) is Scope.ALL_AND_UPLINK
    for rule in (uplink, gauge):   # every rule of st-01 is evaluated by exactly one of the two roles
        assert [in_scope(rule, scope_for(r, "st-01", "st-01" if r == "station" else None, servers))
                for r in ("station", "head-office")].count(True) == 1
