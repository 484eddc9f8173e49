"""MQTT topic names for Sparkplug B telemetry and CloudEvents, and their pure parsing."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from telemetry.contracts.identifiers import is_code, is_group

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


def event_topic(station: str, event_type: str) -> str:
    return f"{EVENTS_ROOT}/{station}/events/{event_type}"
