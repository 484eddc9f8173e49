"""The alarm rules and the ISA-18.2 life cycle, pure: no I/O, no clock (``now`` is always given).

A ``Rule`` watches sources (a metric of a device, or a device for comm-loss); each (station, rule, source) has one
``Condition``: the evaluation state the engine keeps in ``alarms.conditions``. ``evaluate`` takes a condition,
the newest ``Sample`` and the time, and returns the next condition and the transitions it made, so two workers
that evaluate the same row under its lock come to the same answer and the second finds nothing left to do.
``act`` is a person's action (acknowledge, shelve, unshelve, out of service, in service).

Life cycle (ISA-18.2): normal → unacknowledged (raised) → acknowledged → normal (returned), or
unacknowledged → returned_unacknowledged (cleared first) → normal (acknowledged); returned_unacknowledged →
unacknowledged when the condition comes back. Shelved (by a person, until an expiry), suppressed (by design,
e.g. during a delivery) and out of service hold the occurrence without annunciating it; while held the
condition is followed silently, and on release the alarm is unacknowledged again if the condition is present,
else it closes.
"""

from __future__ import annotations

import fnmatch
import math
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from telemetry.contracts.events.alarms import (
    ALARM_ACKNOWLEDGED,
    ALARM_IN_SERVICE,
    ALARM_OUT_OF_SERVICE,
    ALARM_RAISED,
    ALARM_RETURNED,
    ALARM_SHELVED,
    ALARM_SUPPRESSED,
    ALARM_UNSHELVED,
    ALARM_UNSUPPRESSED,
    AlarmState,
    Priority,
)

S = AlarmState


class Kind(StrEnum):
    HIGH = "high"
    HIGH_HIGH = "high_high"
    LOW = "low"
    LOW_LOW = "low_low"
    RATE = "rate"                  # change per minute over window_s; limit > 0 rising, < 0 falling
    DISCRETE = "discrete"          # a state or code: match_values, or mask bits, or any non-zero/non-empty
    COMM_LOSS = "comm_loss"        # the device (or edge node) dead, stale, or silent for more than limit s
    BAD_QUALITY = "bad_quality"    # the value's quality is bad (sensor fault, probe out …)
    CONDITION = "condition"        # raised and cleared by another plane over SQL (telemetry/alarms/external.py)


LIMITED = frozenset({Kind.HIGH, Kind.HIGH_HIGH, Kind.LOW, Kind.LOW_LOW, Kind.RATE})
SUPPRESSIONS = {"delivery": "delivery_in_progress"}   # during: X → the sibling metric that says X is going on
OPEN = frozenset({S.UNACKNOWLEDGED, S.ACKNOWLEDGED, S.RETURNED_UNACKNOWLEDGED})     # annunciated
HELD = frozenset({S.SHELVED, S.SUPPRESSED, S.OUT_OF_SERVICE})
MAX_SHELVE = timedelta(hours=24)


class RuleError(ValueError):
    """A rule that cannot work; says which field and what is expected."""


class ActionRefused(Exception):
    """A person's action that does not fit the alarm's state (the API answers 409 with this text)."""


@dataclass(frozen=True, slots=True)
class Rule:
    id: int
    code: str
    kind: Kind
    priority: Priority
    station: str = ""           # '' every station
    device: str = "*"           # glob; '' the edge node itself (comm_loss)
    metric: str = "*"           # glob
    limit: float | None = None
    deadband: float = 0.0
    on_delay_s: float = 0.0
    off_delay_s: float = 0.0
    window_s: float = 60.0
    match_values: tuple[str, ...] = ()
    mask: int = 0
    area: str = ""
    message: str = ""
    unit: str = ""
    during: tuple[str, ...] = ()
    enabled: bool = True

    def __post_init__(self) -> None:
        if self.kind in LIMITED and (self.limit is None or not math.isfinite(self.limit)):
            raise RuleError(f"{self.code}: kind {self.kind} needs a finite limit")
        if self.kind is Kind.RATE and self.limit == 0:
            raise RuleError(f"{self.code}: a rate limit is > 0 (rising) or < 0 (falling), not 0")
        for what in self.during:
            if what not in SUPPRESSIONS:
                raise RuleError(f"{self.code}: during must be one of {sorted(SUPPRESSIONS)}, not {what!r}")
        if min(self.deadband, self.on_delay_s, self.off_delay_s) < 0 or self.window_s <= 0:
            raise RuleError(f"{self.code}: deadband and delays are >= 0, window_s > 0")

    def applies_to(self, station: str, device: str, metric: str) -> bool:
        if self.station not in ("", station):
            return False
        if self.kind is Kind.COMM_LOSS:
            return device == self.device if self.device == "" else \
                device != "" and fnmatch.fnmatchcase(device, self.device)
        return fnmatch.fnmatchcase(device, self.device) and fnmatch.fnmatchcase(metric, self.metric)


@dataclass(frozen=True, slots=True)
class Sample:
    """What ingest committed for one source: its latest value and the status of its device."""

    value: float | None = None
    text: str | None = None
    quality: str = "good"
    ts: datetime | None = None           # taken at the source
    received_at: datetime | None = None  # committed by ingest
    online: bool = True
    stale: bool = False
    suppressed: bool = False             # a suppression the rule names is going on (e.g. a delivery)
    reported: float | None = None        # the value to show, when not ``value`` (a condition's own figure)


@dataclass(frozen=True, slots=True)
class Condition:
    """The evaluation state of one (station, rule, source)."""

    state: AlarmState = S.NORMAL
    active: bool = False
    violating: bool = False
    pending_since: datetime | None = None
    clear_since: datetime | None = None
    ref_value: float | None = None
    ref_ts: datetime | None = None
    last_ts: datetime | None = None
    alarm_id: uuid.UUID | None = None
    seq: int = 0
    shelved_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class Transition:
    event_type: str
    alarm_id: uuid.UUID
    seq: int
    state_from: AlarmState
    state_to: AlarmState
    active: bool
    at: datetime
    value: float | None = None
    by: str = ""
    comment: str = ""
    shelved_until: datetime | None = None
    extra: dict[str, str] = field(default_factory=dict)


def _number(sample: Sample) -> float | None:
    if sample.quality == "bad" or sample.value is None or not math.isfinite(sample.value):
        return None
    return sample.value


def _discrete(rule: Rule, sample: Sample) -> bool | None:
    if sample.quality == "bad":
        return None
    if rule.mask:
        return None if sample.value is None else bool(int(sample.value) & rule.mask)
    if sample.text is not None:
        present = {part.strip() for part in sample.text.split(",")} - {""}
        return bool(present & set(rule.match_values)) if rule.match_values else bool(present)
    if sample.value is None:
        return None
    if rule.match_values:
        return any(_equal(sample.value, v) for v in rule.match_values)
    return sample.value != 0


def _equal(value: float, text: str) -> bool:
    try:
        return value == float(text)
    except ValueError:
        return False


def _rate(rule: Rule, cond: Condition, sample: Sample) -> tuple[bool | None, Condition]:
    """Change per minute between the window's first sample and this one, once the window has passed."""
    v = _number(sample)
    if v is None or sample.ts is None:
        return None, cond
    if cond.ref_ts is None or cond.ref_value is None or sample.ts < cond.ref_ts:
        return None, replace(cond, ref_value=v, ref_ts=sample.ts)
    seconds = (sample.ts - cond.ref_ts).total_seconds()
    if seconds < rule.window_s:
        return None, cond
    per_min = (v - cond.ref_value) / seconds * 60.0
    limit = rule.limit or 0.0
    band = rule.deadband if cond.active else 0.0
    over = per_min >= limit - band if limit > 0 else per_min <= limit + band
    return over, replace(cond, ref_value=v, ref_ts=sample.ts)


def violating(rule: Rule, cond: Condition, sample: Sample, now: datetime) -> tuple[bool | None, Condition]:
    """Is the rule's condition present in this sample (deadband applied)? None: the sample cannot tell."""
    kind = rule.kind
    if kind is Kind.RATE:
        return _rate(rule, cond, sample)
    if kind is Kind.COMM_LOSS:
        silent = (rule.limit is not None and rule.limit > 0 and sample.received_at is not None
                  and (now - sample.received_at).total_seconds() > rule.limit)
        return (not sample.online) or sample.stale or silent, cond
    if kind is Kind.BAD_QUALITY:
        return sample.quality == "bad", cond
    if kind in (Kind.DISCRETE, Kind.CONDITION):
        return _discrete(rule, sample), cond
    v = _number(sample)
    if v is None:
        return None, cond
    limit = rule.limit or 0.0
    if kind in (Kind.HIGH, Kind.HIGH_HIGH):
        return (v >= limit - rule.deadband) if cond.active else v >= limit, cond
    return (v <= limit + rule.deadband) if cond.active else v <= limit, cond


def _delayed(rule: Rule, cond: Condition, now_violating: bool, now: datetime) -> Condition:
    """The condition's ``active`` after the on/off delays."""
    if now_violating and not cond.active:
        since = cond.pending_since or now
        if (now - since).total_seconds() >= rule.on_delay_s:
            return replace(cond, active=True, pending_since=None, clear_since=None)
        return replace(cond, pending_since=since, clear_since=None)
    if not now_violating and cond.active:
        since = cond.clear_since or now
        if (now - since).total_seconds() >= rule.off_delay_s:
            return replace(cond, active=False, pending_since=None, clear_since=None)
        return replace(cond, clear_since=since, pending_since=None)
    return replace(cond, pending_since=None, clear_since=None)


class _Steps:
    """Collects the transitions of one evaluation or action, numbering them."""

    def __init__(self, cond: Condition, at: datetime, value: float | None) -> None:
        self.cond, self.at, self.value = cond, at, value
        self.made: list[Transition] = []

    def go(self, event_type: str, to: AlarmState, *, new_id: uuid.UUID | None = None, by: str = "",
           comment: str = "", shelved_until: datetime | None = None) -> None:
        c = self.cond
        alarm_id = new_id or c.alarm_id
        if alarm_id is None:
            raise ActionRefused("报警已关闭 (the alarm is closed)")
        seq = 1 if new_id else c.seq + 1
        self.made.append(Transition(event_type, alarm_id, seq, c.state, to, c.active, self.at, self.value, by,
                                    comment, shelved_until))
        closed = to is S.NORMAL
        self.cond = replace(c, state=to, alarm_id=None if closed else alarm_id, seq=0 if closed else seq,
                            shelved_until=shelved_until if to is S.SHELVED else None)


def released(cond: Condition) -> AlarmState:
    """Where a held alarm goes when released: annunciated again if the condition is present, else normal."""
    return S.UNACKNOWLEDGED if cond.active else S.NORMAL


def _forgotten(cond: Condition, sample: Sample) -> Condition:
    """The condition no longer followed: not present, no delay running, no rate window."""
    return replace(cond, violating=False, active=False, pending_since=None, clear_since=None, ref_value=None,
                   ref_ts=None, last_ts=sample.ts or cond.last_ts)


def evaluate(rule: Rule, cond: Condition, sample: Sample, now: datetime,
             new_id: uuid.UUID) -> tuple[Condition, list[Transition]]:
    """The next condition and its transitions; ``new_id`` names the occurrence if one is raised now."""
    suppressed = sample.suppressed and bool(rule.during)
    if suppressed and cond.state is S.NORMAL:
        # suppressed by design with nothing open: the condition is not followed, so that what the delivery did
        # (a rise, a window of rate) is not raised the moment it ends; afterwards it must be seen afresh
        return _forgotten(cond, sample), []
    if suppressed and rule.kind is Kind.RATE:
        # an open rate alarm being suppressed: a window spanning the delivery says nothing once it ends, so the
        # rate is not followed either and is seen afresh over a whole window after it (never a stale ``active``)
        cond = _forgotten(cond, sample)
    else:
        seen, cond = violating(rule, cond, sample, now)
        now_violating = cond.violating if seen is None else seen
        cond = _delayed(rule, replace(cond, violating=now_violating, last_ts=sample.ts or cond.last_ts),
                        now_violating, now)
    value = sample.reported if sample.reported is not None else _number(sample)
    steps = _Steps(cond, now, value)
    state = cond.state
    if state is S.SHELVED and cond.shelved_until is not None and cond.shelved_until <= now:
        steps.go(ALARM_UNSHELVED, released(cond), comment="搁置到期 (shelving expired)")
    if suppressed and steps.cond.state in OPEN:
        steps.go(ALARM_SUPPRESSED, S.SUPPRESSED)
    elif not suppressed and steps.cond.state is S.SUPPRESSED:
        steps.go(ALARM_UNSUPPRESSED, released(steps.cond))
    c = steps.cond
    if c.state is S.NORMAL and c.active and not suppressed and rule.priority is not Priority.JOURNAL:
        steps.go(ALARM_RAISED, S.UNACKNOWLEDGED, new_id=new_id)
    elif c.state is S.RETURNED_UNACKNOWLEDGED and c.active:
        steps.go(ALARM_RAISED, S.UNACKNOWLEDGED)
    elif c.state is S.UNACKNOWLEDGED and not c.active:
        steps.go(ALARM_RETURNED, S.RETURNED_UNACKNOWLEDGED)
    elif c.state is S.ACKNOWLEDGED and not c.active:
        steps.go(ALARM_RETURNED, S.NORMAL)
    return steps.cond, steps.made


class Action(StrEnum):
    ACKNOWLEDGE = "acknowledge"
    SHELVE = "shelve"
    UNSHELVE = "unshelve"
    OUT_OF_SERVICE = "out-of-service"
    IN_SERVICE = "in-service"


def act(cond: Condition, action: Action, now: datetime, by: str, comment: str = "",
        shelve_for: timedelta | None = None) -> tuple[Condition, Transition]:
    """A person's action on the open occurrence of ``cond``; ``ActionRefused`` when it does not fit."""
    state = cond.state
    if cond.alarm_id is None:
        raise ActionRefused("报警已恢复正常并关闭，无需操作 (the alarm has returned to normal and is closed)")
    steps = _Steps(cond, now, None)
    if action is Action.ACKNOWLEDGE:
        if state is S.UNACKNOWLEDGED:
            steps.go(ALARM_ACKNOWLEDGED, S.ACKNOWLEDGED, by=by, comment=comment)
        elif state is S.RETURNED_UNACKNOWLEDGED:
            steps.go(ALARM_ACKNOWLEDGED, S.NORMAL, by=by, comment=comment)
        else:
            raise ActionRefused(f"报警状态为 {state}，不能确认 (only an unacknowledged alarm can be acknowledged)")
    elif action is Action.SHELVE:
        if state not in OPEN:
            raise ActionRefused(f"报警状态为 {state}，不能搁置 (only an annunciated alarm can be shelved)")
        if shelve_for is None or not timedelta(0) < shelve_for <= MAX_SHELVE:
            raise ActionRefused("搁置时长须在 1 分钟到 24 小时之间 (shelve for 1 minute to 24 hours)")
        steps.go(ALARM_SHELVED, S.SHELVED, by=by, comment=comment, shelved_until=now + shelve_for)
    elif action is Action.UNSHELVE:
        if state is not S.SHELVED:
            raise ActionRefused("报警未被搁置 (the alarm is not shelved)")
        steps.go(ALARM_UNSHELVED, released(cond), by=by, comment=comment)
    elif action is Action.OUT_OF_SERVICE:
        if state is S.OUT_OF_SERVICE:
            raise ActionRefused("报警已停用 (the alarm is already out of service)")
        steps.go(ALARM_OUT_OF_SERVICE, S.OUT_OF_SERVICE, by=by, comment=comment)
    else:
        if state is not S.OUT_OF_SERVICE:
            raise ActionRefused("报警未停用 (the alarm is not out of service)")
        steps.go(ALARM_IN_SERVICE, released(cond), by=by, comment=comment)
    return steps.cond, steps.made[0]


class Scope(StrEnum):
    """Which of a station's rules a role's engine evaluates."""

    ALL = "all"             # every rule but the edge node's uplink
    UPLINK = "uplink"       # only the edge node's comm-loss (device '')
    ALL_AND_UPLINK = "all-and-uplink"
    NONE = "none"


def scope_for(role: str, station: str, own_station: str | None, station_servers: frozenset[str]) -> Scope:
    """THE one decision of where a station's alarms are evaluated, so no condition is raised twice: a station
    server evaluates its own equipment; head office evaluates stations without a station server, and the
    uplink (the edge node's death or silence) of every station, which only it can see."""
    if role == "station":
        return Scope.ALL if station == own_station else Scope.NONE
    return Scope.UPLINK if station in station_servers else Scope.ALL_AND_UPLINK


def in_scope(rule: Rule, scope: Scope) -> bool:
    uplink = rule.kind is Kind.COMM_LOSS and rule.device == ""
    if scope is Scope.NONE:
        return False
    if scope is Scope.ALL_AND_UPLINK:
        return True
    return uplink if scope is Scope.UPLINK else not uplink
