"""The identifiers that travel in topics, URLs and event envelopes, and the one rule for each
(station, device and group codes, event ids, event and command types).

A station, device or group code becomes an MQTT topic level and a URL path segment, so it may not
hold '/', '+', '#', NUL, spaces or anything that would need escaping. Everything that takes such an
identifier from outside (a route, a topic, an event, a station file, a setting) checks it here, and
the checks are cheap enough to run before anything touches the database.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import Field

CODE_PATTERN = r"^[a-z0-9][a-z0-9-]{0,31}$"            # station and device codes: demo-01, disp-01
GROUP_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"   # Sparkplug group: the operating company
EVENT_ID_PATTERN = r"^[\x21-\x7e]{1,128}$"             # CloudEvents id: printable ASCII, no spaces
EVENT_TYPE_PATTERN = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*){1,3}$"   # fuelling.completed, command.set_price
#: text a person typed (a name, a note, a search): anything but control characters (PostgreSQL refuses a NUL)
PLAIN_TEXT = r"^[^\x00-\x1f\x7f]*$"
EVENT_TYPE_MAX = 64                                     # characters in an event or command type (a topic level)
METRIC_NAME_MAX = 256                                   # characters in a Sparkplug metric name

_CODE = re.compile(CODE_PATTERN)
_GROUP = re.compile(GROUP_PATTERN)
_EVENT_ID = re.compile(EVENT_ID_PATTERN)
_EVENT_TYPE = re.compile(EVENT_TYPE_PATTERN)

Code = Annotated[str, Field(pattern=CODE_PATTERN)]
GroupId = Annotated[str, Field(pattern=GROUP_PATTERN)]
EventId = Annotated[str, Field(pattern=EVENT_ID_PATTERN)]


class IdentifierError(ValueError):
    """An identifier that breaks its rule; the message says which rule."""


def is_code(value: str) -> bool:
    return _CODE.fullmatch(value) is not None


def is_group(value: str) -> bool:
    return _GROUP.fullmatch(value) is not None


def is_event_id(value: str) -> bool:
    return _EVENT_ID.fullmatch(value) is not None


def is_event_type(value: str) -> bool:
    return len(value) <= EVENT_TYPE_MAX and _EVENT_TYPE.fullmatch(value) is not None


def check_code(value: str, what: str = "code") -> str:
    if not is_code(value):
        raise IdentifierError(f"{what} {value[:40]!r}: expected 1–32 lower-case letters, digits or '-'")
    return value


def check_group(value: str) -> str:
    if not is_group(value):
        raise IdentifierError(f"group {value[:40]!r}: expected 1–64 letters, digits, '.', '_' or '-'")
    return value
