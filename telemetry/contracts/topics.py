"""MQTT topic names for Sparkplug B telemetry and CloudEvents, and their pure parsing.

Sparkplug: ``spBv1.0/{group}/{type}/{edge_node}[/{device}]``. CloudEvents:
``forecourt/v1/{group}/{station}/events/{type}`` and ``…/commands/{type}``. The group (the operating
company) is in every topic, so two companies with a station ``demo-01`` can share one broker, and the
broker's ACL can say which login may use which group and station.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from telemetry.contracts.identifiers import is_code, is_event_type, is_group

NAMESPACE = "spBv1.0"
EVENTS_ROOT = "forecourt/v1"
HOSTS_ROOT = "forecourt/hosts"


class MessageType(StrEnum):
    NBIRTH = "NBIRTH"
    NDATA = "NDATA"
    NDEATH = "NDEATH"
    NCMD = "NCMD"
    DBIRTH = "DBIRTH"
    DDATA = "DDATA"
    DDEATH = "DDEATH"
    DCMD = "DCMD"
    STATE = "STATE"


NODE_TYPES = {MessageType.NBIRTH, MessageType.NDATA, MessageType.NDEATH, MessageType.NCMD}
DEVICE_TYPES = {MessageType.DBIRTH, MessageType.DDATA, MessageType.DDEATH, MessageType.DCMD}


class TopicError(ValueError):
    """A topic that is not a well-formed Sparkplug B topic."""


@dataclass(frozen=True, slots=True)
class SparkplugTopic:
    group: str
    message_type: MessageType
    edge_node: str
    device: str | None = None

    def __str__(self) -> str:
        parts = [NAMESPACE, self.group, self.message_type.value, self.edge_node]
        if self.device is not None:
            parts.append(self.device)
        return "/".join(parts)


def node_topic(group: str, message_type: MessageType, edge_node: str) -> str:
    return str(SparkplugTopic(group, message_type, edge_node))


def device_topic(group: str, message_type: MessageType, edge_node: str, device: str) -> str:
    return str(SparkplugTopic(group, message_type, edge_node, device))


def state_topic(host_id: str) -> str:
    return f"{NAMESPACE}/STATE/{host_id}"


def host_worker_topic(host_id: str, worker_id: str) -> str:
    """Retained presence of one ingest worker of a primary host (empty = gone); see ``telemetry/ingest/host.py``."""
    return f"{HOSTS_ROOT}/{host_id}/workers/{worker_id}"


def group_filter(group: str) -> str:
    """Subscription filter for every Sparkplug message of one group."""
    return f"{NAMESPACE}/{group}/#"


def node_filter(group: str, edge_node: str) -> str:
    """Subscription filter for every Sparkplug message of one edge node (a station server ingests only its own)."""
    return f"{NAMESPACE}/{group}/+/{edge_node}/#"


def shared(filter_: str, share_group: str) -> str:
    """An MQTT v5 shared subscription, so that N workers split the load."""
    return f"$share/{share_group}/{filter_}"


def parse(topic: str) -> SparkplugTopic:
    """Split a Sparkplug topic; raises ``TopicError`` for anything else (STATE topics included), and for a
    group, edge node or device id that breaks its rule in ``identifiers`` (they become stored keys)."""
    parts = topic.split("/")
    if len(parts) not in (4, 5) or parts[0] != NAMESPACE:
        raise TopicError(f"not a Sparkplug B topic: {topic!r}")
    try:
        mtype = MessageType(parts[2])
    except ValueError as exc:
        raise TopicError(f"unknown Sparkplug message type in {topic!r}") from exc
    if mtype is MessageType.STATE:
        raise TopicError(f"STATE is not a node or device topic: {topic!r}")
    if (len(parts) == 5) != (mtype in DEVICE_TYPES) or not all(parts[1:]):
        raise TopicError(f"wrong number of levels for {mtype.value}: {topic!r}")
    if not is_group(parts[1]):
        raise TopicError(f"group {parts[1][:40]!r} breaks the group rule in {topic[:120]!r}")
    if not all(is_code(code) for code in parts[3:]):
        raise TopicError(f"edge node or device id breaks the code rule in {topic[:120]!r}")
    return SparkplugTopic(parts[1], mtype, parts[3], parts[4] if len(parts) == 5 else None)


# --- CloudEvents: events up from a station, commands down to it ------------------------------------

EVENTS_LEVEL: Literal["events"] = "events"
COMMANDS_LEVEL: Literal["commands"] = "commands"
Direction = Literal["events", "commands"]


@dataclass(frozen=True, slots=True)
class EventTopic:
    """Where a CloudEvent travels: the company and station the broker authorised, the direction, the type."""

    group: str
    station: str
    direction: Direction
    type: str

    def __str__(self) -> str:
        return f"{EVENTS_ROOT}/{self.group}/{self.station}/{self.direction}/{self.type}"


def event_topic(group: str, station: str, event_type: str) -> str:
    return str(EventTopic(group, station, EVENTS_LEVEL, event_type))


def events_filter(group: str = "+", station: str = "+", event_type: str = "#") -> str:
    """Subscription filter for events: of every company and station by default."""
    return f"{EVENTS_ROOT}/{group}/{station}/{EVENTS_LEVEL}/{event_type}"


def parse_event_topic(topic: str) -> EventTopic:
    """Split an event or command topic, checking each level by its rule; ``TopicError`` for anything else."""
    parts = topic.split("/")
    if len(parts) != 6 or "/".join(parts[:2]) != EVENTS_ROOT or parts[4] not in (EVENTS_LEVEL, COMMANDS_LEVEL):
        raise TopicError(f"not a forecourt/v1/{{group}}/{{station}}/events|commands/{{type}} topic: {topic[:200]!r}")
    group, station, direction, event_type = parts[2], parts[3], parts[4], parts[5]
    if not is_group(group):
        raise TopicError(f"bad group level in {topic[:200]!r}")
    if not is_code(station):
        raise TopicError(f"bad station level in {topic[:200]!r}")
    if not is_event_type(event_type):
        raise TopicError(f"bad event type level in {topic[:200]!r}")
    return EventTopic(group, station, EVENTS_LEVEL if direction == EVENTS_LEVEL else COMMANDS_LEVEL, event_type)
