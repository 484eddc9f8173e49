"""Alarm events (ISA-18.2 life cycle), raised by the alarm engine (``telemetry/alarms/``) of the station
server for its own equipment, or of head office for a station without one; carried up to head office like
the station's sales, and read by notifications (routing, escalation) and the alarm console.

One payload, ``AlarmTransition``, in one event type per transition (``alarm.raised``, ``alarm.acknowledged``
…): which alarm (``alarm_id``: one occurrence of one condition), which rule and source, the state before and
after, the value and limit that decided it, who and why for a person's action. ``seq`` numbers an alarm's
transitions 1, 2, 3 …; the event id comes from (alarm_id, seq), so the same transition reported twice is one
event and a consumer can tell a late one from a newer one.

States (ISA-18.2): ``normal`` → ``unacknowledged`` (active, new) → ``acknowledged`` (active, seen) →
``normal`` after the condition clears; or ``returned_unacknowledged`` (cleared before anyone acknowledged) →
``normal`` on acknowledgement. ``shelved`` (a person hides it until an expiry), ``suppressed`` (by design,
e.g. a tank's low-level and rate alarms during a delivery) and ``out_of_service`` (maintenance) take an alarm
out of the operator's list without losing it.
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Annotated

from pydantic import Field

from telemetry.contracts.events.envelope import EventPayload
from telemetry.contracts.events.fields import UtcTime
from telemetry.contracts.identifiers import Code

ALARM_RAISED = "alarm.raised"
ALARM_ACKNOWLEDGED = "alarm.acknowledged"
ALARM_RETURNED = "alarm.returned"                 # the condition cleared (return to normal)
ALARM_SHELVED = "alarm.shelved"
ALARM_UNSHELVED = "alarm.unshelved"               # by a person, or at the shelving's expiry
ALARM_SUPPRESSED = "alarm.suppressed"
ALARM_UNSUPPRESSED = "alarm.unsuppressed"
ALARM_OUT_OF_SERVICE = "alarm.out_of_service"
ALARM_IN_SERVICE = "alarm.in_service"
ALARM_ESCALATED = "alarm.escalated"               # notifications: unacknowledged past the routing's delay

_NAMESPACE = uuid.UUID("7a1e4c2d-3b5f-4e6a-8c9d-0e1f2a3b4c5d")


class AlarmState(StrEnum):
    NORMAL = "normal"
    UNACKNOWLEDGED = "unacknowledged"
    ACKNOWLEDGED = "acknowledged"
    RETURNED_UNACKNOWLEDGED = "returned_unacknowledged"
    SHELVED = "shelved"
    SUPPRESSED = "suppressed"
    OUT_OF_SERVICE = "out_of_service"


class Priority(StrEnum):
    """ISA-18.2 priorities, most urgent first (the console's colour and sound)."""

    URGENT = "urgent"          # 紧急: e.g. gas level 2, overfill
    HIGH = "high"              # 高
    MEDIUM = "medium"          # 中
    LOW = "low"                # 低
    JOURNAL = "journal"        # 仅记录: recorded, never annunciated


Text = Annotated[str, Field(max_length=500)]


class AlarmTransition(EventPayload):
    """Payload of every ``alarm.*`` event: one transition of one alarm occurrence."""

    TYPE = ALARM_RAISED

    alarm_id: uuid.UUID                 # one occurrence of one condition
    seq: Annotated[int, Field(ge=1)]    # this alarm's transition number
    station: Code
    rule: Annotated[str, Field(min_length=1, max_length=128)]      # the rule's code, e.g. tank-1.level.high
    source: Annotated[str, Field(min_length=1, max_length=256)]    # device/metric, e.g. tank-1/level_mm
    area: Annotated[str, Field(max_length=64)] = ""                # e.g. 油罐区, 加油区, 加气区, 充电区
    priority: Priority
    kind: Annotated[str, Field(min_length=1, max_length=32)]       # high, high_high, low, rate, discrete, comm_loss …
    state_from: AlarmState
    state_to: AlarmState
    active: bool                        # is the condition present after this transition
    value: float | None = None          # the value that decided it (None for a person's action)
    limit: float | None = None
    unit: Annotated[str, Field(max_length=16)] = ""
    message: Text = ""                  # Chinese, for the operator
    by: Annotated[str, Field(max_length=64)] = ""     # who (a user), or "" for the engine
    comment: Text = ""
    shelved_until: UtcTime | None = None
    at: UtcTime

    def event_id(self) -> str:
        return str(uuid.uuid5(_NAMESPACE, f"{self.alarm_id}/{self.seq}"))


def _typed(name: str, event_type: str) -> type[AlarmTransition]:
    return type(name, (AlarmTransition,), {"TYPE": event_type, "__doc__": f"``{event_type}``"})


AlarmRaised = AlarmTransition
AlarmAcknowledged = _typed("AlarmAcknowledged", ALARM_ACKNOWLEDGED)
AlarmReturned = _typed("AlarmReturned", ALARM_RETURNED)
AlarmShelved = _typed("AlarmShelved", ALARM_SHELVED)
AlarmUnshelved = _typed("AlarmUnshelved", ALARM_UNSHELVED)
AlarmSuppressed = _typed("AlarmSuppressed", ALARM_SUPPRESSED)
AlarmUnsuppressed = _typed("AlarmUnsuppressed", ALARM_UNSUPPRESSED)
AlarmOutOfService = _typed("AlarmOutOfService", ALARM_OUT_OF_SERVICE)
AlarmInService = _typed("AlarmInService", ALARM_IN_SERVICE)
AlarmEscalated = _typed("AlarmEscalated", ALARM_ESCALATED)

#: event type → payload model, for consumers of every ``alarm.*`` event
ALARM_EVENTS: dict[str, type[AlarmTransition]] = {
    model.TYPE: model for model in (AlarmRaised, AlarmAcknowledged, AlarmReturned, AlarmShelved, AlarmUnshelved,
                                    AlarmSuppressed, AlarmUnsuppressed, AlarmOutOfService, AlarmInService,
                                    AlarmEscalated)}


ACKNOWLEDGE_ALARM = "command.acknowledge_alarm"


class AcknowledgeAlarm(EventPayload):
    """Head office acknowledges an alarm a station server owns: a command down on the station's command topic
    (``forecourt/v1/{group}/{station}/commands/command.acknowledge_alarm``); the station applies it and its
    ``alarm.acknowledged`` comes back up. Id: ``ack/{alarm_id}/{seq}`` (seq: the alarm's seq the person saw)."""

    TYPE = ACKNOWLEDGE_ALARM

    alarm_id: uuid.UUID
    seq: Annotated[int, Field(ge=1)]
    station: Code
    by: Annotated[str, Field(min_length=1, max_length=64)]
    comment: Text = ""
    at: UtcTime

    def command_id(self) -> str:
        return f"ack-{self.alarm_id}-{self.seq}"
