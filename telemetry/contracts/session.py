"""Sparkplug B session rules, both sides, in one place.

Edge side (``EdgeSequencer``): bdSeq per MQTT CONNECT, ``seq`` 0 on NBIRTH and +1 (mod 256) on
every later node or device message, and stable metric aliases. bdSeq (Sparkplug 3.0): every CONNECT,
a failed one included, carries the previous CONNECT's bdSeq + 1 (mod 256) in its NDEATH will and the
NBIRTH that follows; the edge node keeps the next value on disk, so a restart continues the count and
never reuses the bdSeq of a will its predecessor may still have pending. ``asks_rebirth`` reads a
``Node Control/Rebirth`` NCMD by name or by the alias the NBIRTH gave it.

Host side (``HostSessions``): what an ingest worker knows about each edge node: the bdSeq of its
current session, the ``seq`` it expects next, and the metric registry (alias → name, type)
learnt from births. A gap in ``seq``, a message before a birth or an NDEATH makes the node
stale until its next NBIRTH; the caller asks for a rebirth.

The primary host announces itself with a retained ``STATE`` message (``host_state``); an edge node
configured with that host births only while it is online, and ignores a STATE older than the newest
it has seen (``HostStateWatch``).

All of it is pure: no I/O, no clock.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from telemetry.contracts.sparkplug import DataType, Metric, Payload
from telemetry.contracts.topics import MessageType, SparkplugTopic

SEQ_MODULO = 256
REBIRTH_METRIC = "Node Control/Rebirth"
BDSEQ_METRIC = "bdSeq"


class EdgeSequencer:
    """Numbers an edge node's messages: ``bdSeq`` per session, ``seq`` per message, aliases per metric."""

    def __init__(self, first_bd_seq: int = 0) -> None:
        self.bd_seq = first_bd_seq % SEQ_MODULO
        self._next_bd_seq = self.bd_seq
        self._seq = 0
        self._aliases: dict[tuple[str | None, str], int] = {}

    def new_session(self) -> int:
        """A new MQTT CONNECT: its bdSeq (for the will and the NBIRTH); the next CONNECT gets +1."""
        self.bd_seq = self._next_bd_seq
        self._next_bd_seq = (self.bd_seq + 1) % SEQ_MODULO
        return self.bd_seq

    @property
    def next_bd_seq(self) -> int:
        """What the next CONNECT will use: keep it across restarts and hand it to ``resume``."""
        return self._next_bd_seq

    def resume(self, next_bd_seq: int) -> None:
        """Continue a count kept from an earlier run of the same edge node."""
        self._next_bd_seq = next_bd_seq % SEQ_MODULO

    def birth_seq(self) -> int:
        """``seq`` for an NBIRTH: always 0, and the count restarts from it."""
        self._seq = 0
        return 0

    def next_seq(self) -> int:
        self._seq = (self._seq + 1) % SEQ_MODULO
        return self._seq

    def name_of(self, device: str | None, alias: int) -> str | None:
        """The metric an alias stands for (to read a DCMD that names metrics by alias)."""
        return next((n for (d, n), a in self._aliases.items() if d == device and a == alias), None)

    def metric_name(self, device: str | None, metric: Metric) -> str | None:
        """A received metric's name, or the name its alias stands for."""
        if metric.name is not None:
            return metric.name
        return self.name_of(device, metric.alias) if metric.alias is not None else None

    def alias(self, device: str | None, name: str) -> int:
        """The alias of a metric: unique within the edge node and stable for its lifetime."""
        key = (device, name)
        if key not in self._aliases:
            self._aliases[key] = len(self._aliases) + 1
        return self._aliases[key]


def asks_rebirth(sequencer: EdgeSequencer, payload: Payload) -> bool:
    """An NCMD that sets ``Node Control/Rebirth`` true, named or by its NBIRTH alias."""
    return any(m.value is True and sequencer.metric_name(None, m) == REBIRTH_METRIC for m in payload.metrics)


class Verdict(StrEnum):
    ACCEPT = "accept"          # in order, from a known session
    GAP = "gap"                # seq jumped: data may be missing; mark stale and ask for rebirth
    UNBORN = "unborn"          # data from a node we have no birth for; ask for rebirth
    DEATH = "death"            # the node's session ended
    STALE_DEATH = "stale-death"  # an NDEATH for an older session: ignore


@dataclass(slots=True)
class MetricInfo:
    name: str
    datatype: DataType
    unit: str | None = None


@dataclass(slots=True)
class NodeState:
    bd_seq: int | None = None
    expected_seq: int | None = None
    online: bool = False
    stale: bool = True
    # (device or None, alias) → metric info, learnt from NBIRTH / DBIRTH
    metrics: dict[tuple[str | None, int], MetricInfo] = field(default_factory=dict)
    dead_devices: set[str] = field(default_factory=set)
    restored: bool = False      # aliases came from storage, not from a birth we saw
    # alias → datatype per device, derived from ``metrics`` for the data-message hot path; cleared on change
    types: dict[str | None, dict[int, DataType]] = field(default_factory=dict)


def _bd_seq_of(payload: Payload) -> int | None:
    for m in payload.metrics:
        if m.name == BDSEQ_METRIC and isinstance(m.value, int):
            return m.value
    return None


class HostSessions:
    """Tracks every edge node of a group as the primary host sees it."""

    def __init__(self, check_seq: bool = True) -> None:
        """``check_seq=False`` for a worker that sees only a share of each node's data messages."""
        self.nodes: dict[tuple[str, str], NodeState] = {}
        self.check_seq = check_seq

    def state(self, group: str, edge_node: str) -> NodeState:
        node = self.nodes.get((group, edge_node))
        if node is None:          # not setdefault: that would build a NodeState for every call
            node = self.nodes[(group, edge_node)] = NodeState()
        return node

    def observe(self, topic: SparkplugTopic, payload: Payload) -> Verdict:
        """Update the node's state with one message and say whether it is in order."""
        node = self.state(topic.group, topic.edge_node)
        mtype = topic.message_type
        if mtype is MessageType.NBIRTH:
            node.bd_seq = _bd_seq_of(payload)
            node.expected_seq = ((payload.seq or 0) + 1) % SEQ_MODULO
            node.online, node.stale, node.restored = True, False, False
            node.metrics = {k: v for k, v in node.metrics.items() if k[0] is not None}
            node.types.clear()
            node.dead_devices.clear()
            self._learn(node, None, payload.metrics)
            return Verdict.ACCEPT
        if mtype is MessageType.NDEATH:
            bd_seq = _bd_seq_of(payload)
            if node.bd_seq is not None and bd_seq is not None and bd_seq != node.bd_seq:
                return Verdict.STALE_DEATH
            node.online, node.stale, node.expected_seq = False, True, None
            return Verdict.DEATH
        if mtype in (MessageType.NCMD, MessageType.DCMD):
            return Verdict.ACCEPT
        if not node.online or (node.expected_seq is None and not node.restored):
            return Verdict.UNBORN
        verdict = Verdict.ACCEPT
        if self.check_seq and node.expected_seq is not None and payload.seq != node.expected_seq:
            node.stale = True
            verdict = Verdict.GAP
        node.expected_seq = ((payload.seq or 0) + 1) % SEQ_MODULO
        if mtype is MessageType.DBIRTH and topic.device is not None:
            node.metrics = {k: v for k, v in node.metrics.items() if k[0] != topic.device}
            node.types.pop(topic.device, None)
            node.dead_devices.discard(topic.device)
            self._learn(node, topic.device, payload.metrics)
        elif mtype is MessageType.DDEATH and topic.device is not None:
            node.dead_devices.add(topic.device)
        return verdict

    def restore(self, group: str, edge_node: str, registry: dict[tuple[str | None, int], MetricInfo]) -> None:
        """A node whose births we did not see (a restart, a late join): trust its stored aliases and accept its
        data until its next NBIRTH; its ``seq`` cannot be checked until then."""
        node = self.state(group, edge_node)
        node.metrics.update(registry)
        node.types.clear()
        node.online, node.stale, node.expected_seq = True, False, None
        node.restored = True

    def resolve(self, group: str, edge_node: str, device: str | None, metric: Metric) -> MetricInfo | None:
        """Name and type of a data metric, by its name or by the alias its birth gave it."""
        return self.resolver(group, edge_node, device)(metric.alias, metric.name, metric.datatype)

    def resolver(self, group: str, edge_node: str,
                 device: str | None) -> Callable[[int | None, str | None, DataType | None], MetricInfo | None]:
        """``resolve`` for the metrics of one message, given as (alias, name, datatype): the hot path."""
        known = self.state(group, edge_node).metrics

        def resolve(alias: int | None, name: str | None, datatype: DataType | None) -> MetricInfo | None:
            if alias is not None:
                info = known.get((device, alias))
                if info is not None:
                    return info
            if name is not None and datatype is not None:
                return MetricInfo(name, datatype)
            return None
        return resolve

    def datatypes(self, group: str, edge_node: str, device: str | None) -> dict[int, DataType]:
        """alias → datatype for decoding a data message's signed values."""
        node = self.state(group, edge_node)
        types = node.types.get(device)
        if types is None:
            types = node.types[device] = {alias: info.datatype for (dev, alias), info in node.metrics.items()
                                          if dev == device}
        return types

    @staticmethod
    def _learn(node: NodeState, device: str | None, metrics: tuple[Metric, ...]) -> None:
        for m in metrics:
            if m.alias is None or m.name is None or m.datatype is None:
                continue
            unit = m.properties.get("engUnit")
            node.metrics[(device, m.alias)] = MetricInfo(m.name, m.datatype, str(unit) if unit else None)
        node.types.pop(device, None)


def host_state(online: bool, timestamp_ms: int) -> bytes:
    """The primary host's STATE payload (Sparkplug 3.0: JSON, retained, QoS 1)."""
    return json.dumps({"online": online, "timestamp": timestamp_ms}).encode()


@dataclass(frozen=True, slots=True)
class HostState:
    """One STATE message: is the host online, and when did it say so (ms; its MQTT session's start)."""

    online: bool
    timestamp_ms: int | None = None


def read_host_state(raw: bytes) -> HostState | None:
    """A STATE payload, or None when it is not one."""
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(body, dict) or not isinstance(body.get("online"), bool):
        return None
    timestamp = body.get("timestamp")
    ok_timestamp = isinstance(timestamp, int) and not isinstance(timestamp, bool)
    return HostState(body["online"], timestamp if ok_timestamp else None)


def parse_host_state(raw: bytes) -> bool | None:
    """``online`` from a STATE payload, or None when it is not one."""
    state = read_host_state(raw)
    return None if state is None else state.online


class HostStateWatch:
    """The edge side of STATE (Sparkplug 3.0): a STATE older than the newest one seen is ignored, so a
    late will of an earlier host session (or of one of several ingest workers) cannot end a session
    that a newer STATE started. Kept for the life of the edge node, across its MQTT sessions."""

    def __init__(self) -> None:
        self.newest_ms: int | None = None

    def observe(self, state: HostState) -> bool | None:
        """``online`` when the STATE counts, None when it is older than one already seen."""
        if state.timestamp_ms is not None:
            if self.newest_ms is not None and state.timestamp_ms < self.newest_ms:
                return None
            self.newest_ms = state.timestamp_ms
        return state.online
