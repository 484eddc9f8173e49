"""Notification rules, pure: which routes an alarm matches, when each step is due, whether it still sends,
the retry back-off, and phone masking. No I/O here (docs/notifications.md).

A route is a row of the routing table: a filter (rule pattern, lowest priority, station, area; empty = any)
and its steps. Step 0 is the first message (``after_minutes`` usually 0); each later step is an escalation,
due ``after_minutes`` after the alarm was raised, and sent only while the alarm is still active and
unacknowledged.
"""

from __future__ import annotations

import fnmatch
import itertools
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from telemetry.contracts.events.alarms import AlarmState, Priority

CHANNELS = ("sms", "wechat", "webhook")
#: priorities a route can ask for, most urgent first (journal alarms are never annunciated, never sent)
RANKED = (Priority.URGENT, Priority.HIGH, Priority.MEDIUM, Priority.LOW)
MAX_STEPS = 5
MAX_ATTEMPTS = 6                    # a failed send is tried this many times in all
FIRST_RETRY_S = 5.0                 # then 10, 20, 40, 80 s (capped at MAX_RETRY_S)
MAX_RETRY_S = 600.0
#: a raise that reaches head office this late (a station's uplink was down) waits this long before its steps
#: run, so the acknowledgement or return that followed it at the station arrives first
CATCH_UP = timedelta(seconds=30)


class InvalidRoute(ValueError):
    """A route that cannot be used; the message says what to change (Chinese first)."""


@dataclass(frozen=True, slots=True)
class Step:
    after_minutes: float            # since the alarm was raised
    channel: str                    # sms | wechat | webhook
    contacts: tuple[int, ...] = ()
    groups: tuple[str, ...] = ()
    webhook_url: str = ""

    def __post_init__(self) -> None:
        if self.channel not in CHANNELS:
            raise InvalidRoute(f"渠道应为 {'/'.join(CHANNELS)} (channel must be one of {CHANNELS})")
        if not 0 <= self.after_minutes <= 24 * 60 or not math.isfinite(self.after_minutes):
            raise InvalidRoute("延迟应在 0–1440 分钟之间 (after_minutes is 0–1440)")
        if self.channel == "webhook":
            if not self.webhook_url.startswith(("http://", "https://")):
                raise InvalidRoute("Webhook 渠道需要 http(s) 地址 (a webhook step needs webhook_url http(s)://…)")
        elif not self.contacts and not self.groups:
            raise InvalidRoute("短信/微信渠道需要联系人或联系人组 (an sms or wechat step needs contacts or groups)")


@dataclass(frozen=True, slots=True)
class Route:
    id: int
    name: str
    steps: tuple[Step, ...]
    rule: str | None = None           # a rule code or a pattern (``tank-*.level.*``); None: every rule
    min_priority: Priority = Priority.LOW
    station: str | None = None
    area: str | None = None
    enabled: bool = True

    def __post_init__(self) -> None:
        check_steps(self.steps)
        if self.min_priority not in RANKED:
            raise InvalidRoute("最低优先级应为 urgent/high/medium/low (min_priority: urgent, high, medium or low)")


def check_steps(steps: tuple[Step, ...]) -> None:
    if not 1 <= len(steps) <= MAX_STEPS:
        raise InvalidRoute(f"一条路由需要 1–{MAX_STEPS} 个步骤 (a route has 1 to {MAX_STEPS} steps)")
    delays = [s.after_minutes for s in steps]
    if any(b <= a for a, b in itertools.pairwise(delays)):
        raise InvalidRoute("升级步骤的延迟须逐级递增 (each escalation step must come later than the one before)")


@dataclass(frozen=True, slots=True)
class AlarmFacts:
    """What routing and escalation need of an alarm (kept from its ``alarm.*`` events)."""

    station: str
    rule: str
    area: str
    priority: Priority
    state: AlarmState = AlarmState.UNACKNOWLEDGED
    active: bool = True
    raised_at: datetime = field(default_factory=lambda: datetime.fromtimestamp(0).astimezone())


def rank(priority: Priority | str) -> int:
    """0 for the most urgent; journal (never sent) after every other."""
    p = Priority(priority)
    return RANKED.index(p) if p in RANKED else len(RANKED)


def matches(route: Route, alarm: AlarmFacts) -> bool:
    if not route.enabled or rank(alarm.priority) > rank(route.min_priority):
        return False
    if route.station is not None and route.station != alarm.station:
        return False
    if route.area is not None and route.area != alarm.area:
        return False
    return route.rule is None or fnmatch.fnmatchcase(alarm.rule, route.rule)


def routes_for(routes: list[Route], alarm: AlarmFacts) -> list[Route]:
    """The routes an alarm goes through (every matching route: a station's and a region's both send)."""
    return [r for r in routes if matches(r, alarm)]


def due_at(alarm: AlarmFacts, step: Step, now: datetime | None = None) -> datetime:
    """``after_minutes`` after the raise; for a raise that arrives late (``now`` more than ``CATCH_UP`` after it),
    no earlier than ``CATCH_UP`` from now, so the transitions that followed it are known before anyone is called."""
    due = alarm.raised_at + timedelta(minutes=step.after_minutes)
    if now is not None and now - alarm.raised_at > CATCH_UP:
        due = max(due, now + CATCH_UP)
    return due


def step_sends(step_no: int, state: AlarmState, active: bool) -> bool:
    """Step 0 tells that the alarm was raised, unless it is already over (acknowledged and cleared) or someone
    took it out of the list (shelved, out of service, suppressed). An escalation (step ≥ 1) goes only while the
    alarm is active and unacknowledged."""
    if step_no == 0:
        return state in (AlarmState.UNACKNOWLEDGED, AlarmState.ACKNOWLEDGED, AlarmState.RETURNED_UNACKNOWLEDGED)
    return state is AlarmState.UNACKNOWLEDGED and active


def retry_after_s(attempts: int) -> float:
    """Seconds to wait after the ``attempts``-th failed try (1, 2 …): doubling from FIRST_RETRY_S, capped."""
    return min(FIRST_RETRY_S * 2.0 ** max(attempts - 1, 0), MAX_RETRY_S)


def gives_up(attempts: int, retryable: bool) -> bool:
    return not retryable or attempts >= MAX_ATTEMPTS


def mask_phone(phone: str) -> str:
    """138****5678: enough to tell two people apart, not enough to call them."""
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 8 else "****"


def mask_address(channel: str, address: str) -> str:
    if channel == "sms":
        return mask_phone(address)
    if channel == "wechat":
        return address[:4] + "…" if address else ""
    return address
