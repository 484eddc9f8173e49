"""What an event must pass before any handler or database sees it (pure rules, no I/O).

``admit(topic, raw)`` returns the parsed event with the identity the broker authorised (the topic's group
and station), or a ``Rejected`` with its kind and a reason that is safe to log and store:

- ``invalid``: the topic is not an event topic, the payload is over ``MAX_EVENT_BYTES``, not a CloudEvent,
  its id or type breaks ``telemetry.contracts`` rules, or its type is not the topic's;
- ``security``: the payload claims another station (``data.station``) than the topic it came on. A
  station's login may publish only under its own topic, so such an event is forged or misrouted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from pydantic import ValidationError

from telemetry.contracts.events import MAX_EVENT_BYTES, CloudEvent
from telemetry.contracts.topics import EVENTS_LEVEL, EventTopic, TopicError, parse_event_topic

DeadLetterKind = Literal["invalid", "security", "handler"]
REASON_MAX = 500


@dataclass(frozen=True, slots=True)
class Rejected:
    kind: DeadLetterKind
    reason: str                          # sanitised: printable, at most REASON_MAX characters
    topic_station: str | None = None     # the topic's station level, when the topic parsed
    claimed_station: str | None = None   # what the payload claimed instead (security)


@dataclass(frozen=True, slots=True)
class Admitted:
    event: CloudEvent
    origin: EventTopic                   # group and station from the topic: the identity to record


def sanitised(text: str, limit: int = REASON_MAX) -> str:
    """Printable text for logs and ``text`` columns: control characters (NUL included) escaped, cut at ``limit``."""
    clean = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text[: limit * 2])
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"


def explain(exc: Exception) -> str:
    """A short reason for a parse or validation failure, without echoing the (possibly huge) input."""
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'event'}: {e['msg']}" for e in exc.errors()[:5])
    if isinstance(exc, json.JSONDecodeError):
        return f"not JSON: {exc.msg} at byte {exc.pos}"
    if isinstance(exc, RecursionError):
        return "JSON nested too deeply"
    return str(exc)


def admit(topic: str, raw: bytes) -> Admitted | Rejected:
    try:
        origin = parse_event_topic(topic)
    except TopicError as exc:
        return Rejected("invalid", sanitised(str(exc)))
    station = origin.station
    if origin.direction != EVENTS_LEVEL:
        return Rejected("invalid", "a command topic, not an event topic", station)
    if len(raw) > MAX_EVENT_BYTES:
        return Rejected("invalid", f"event of {len(raw)} bytes is over the {MAX_EVENT_BYTES}-byte limit", station)
    try:
        event = CloudEvent.from_bytes(raw)
    except (ValueError, RecursionError) as exc:   # RecursionError: JSON nested thousands deep
        return Rejected("invalid", sanitised(f"not a valid CloudEvent: {explain(exc)}"), station)
    if event.type != origin.type:
        return Rejected("invalid", f"type {event.type} in the event, {origin.type} in the topic", station)
    claimed = event.data.get("station", station)
    if claimed != station:
        return Rejected("security", sanitised(f"{topic} carries an event claiming station {claimed!r}"),
                        station, sanitised(str(claimed), 64))
    return Admitted(event, origin)
