"""Pure step of ingest: one MQTT message in, the rows and status changes it means out.

No I/O: the worker feeds messages through ``Decoder.decode`` and writes what comes back. A message
that is not Sparkplug B, or that breaks a limit (``limits.py``), raises ``UndecodableMessage`` with the
reason before it touches the session state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from telemetry.contracts import sparkplug, topics
from telemetry.contracts.quality import Quality
from telemetry.contracts.session import BDSEQ_METRIC, REBIRTH_METRIC, HostSessions, MetricInfo, Verdict
from telemetry.contracts.sparkplug import DataType
from telemetry.contracts.topics import MessageType, SparkplugTopic
from telemetry.ingest.limits import LimitExceeded, Limits
from telemetry.records import MetricDef, PointRow, SourceStatus


@dataclass(slots=True)
class Decoded:
    topic: SparkplugTopic
    verdict: Verdict
    raw: bytes = b""
    definitions: list[MetricDef] = field(default_factory=list)
    rows: list[PointRow] = field(default_factory=list)
    statuses: list[SourceStatus] = field(default_factory=list)
    unknown_metrics: int = 0

    @property
    def wants_rebirth(self) -> bool:
        return self.verdict in (Verdict.GAP, Verdict.UNBORN) or self.unknown_metrics > 0


class UndecodableMessage(ValueError):
    """The message belongs in the dead-letter table."""


_SKIP = {BDSEQ_METRIC, REBIRTH_METRIC}


def _split_value(value: object, datatype: DataType) -> tuple[float | None, str | None]:
    if value is None:
        return None, None
    if datatype in (DataType.STRING, DataType.TEXT) or isinstance(value, str):
        return None, str(value)
    if isinstance(value, bool):
        return (1.0 if value else 0.0), None
    if isinstance(value, (int, float)):
        return float(value), None
    return None, str(value)


class Decoder:
    def __init__(self, check_seq: bool = True, limits: Limits | None = None) -> None:
        self.sessions = HostSessions(check_seq)
        self.limits = limits or Limits()

    def restore(self, group: str, edge_node: str, registry: dict[tuple[str | None, int], MetricInfo]) -> None:
        """Take a node's aliases from storage (written from its births by any worker) when we missed them."""
        self.sessions.restore(group, edge_node, registry)

    def decode(self, topic_name: str, raw: bytes) -> Decoded:
        """Raises ``UndecodableMessage`` for a bad topic or payload."""
        try:
            topic = topics.parse(topic_name)
        except topics.TopicError as exc:
            raise UndecodableMessage(str(exc)) from exc
        try:
            self.limits.check_size(raw)
            payload = sparkplug.decode(raw, self.sessions.datatypes(topic.group, topic.edge_node, topic.device))
            self.limits.check(payload)
        except (sparkplug.SparkplugDecodeError, LimitExceeded) as exc:
            raise UndecodableMessage(str(exc)) from exc
        if topic.message_type in (MessageType.NCMD, MessageType.DCMD):
            return Decoded(topic, Verdict.ACCEPT, raw)
        verdict = self.sessions.observe(topic, payload)
        out = Decoded(topic, verdict, raw)
        station, device = topic.edge_node, topic.device or ""
        mtype = topic.message_type
        if verdict is Verdict.STALE_DEATH:
            return out
        if mtype is MessageType.NDEATH:
            out.statuses.append(SourceStatus(topic.group, station, "", False, True, "node-death"))
            return out
        if mtype is MessageType.DDEATH:
            out.statuses.append(SourceStatus(topic.group, station, device, False, True, "device-death"))
            return out
        if mtype is MessageType.NBIRTH:
            out.statuses.append(SourceStatus(topic.group, station, "", True, False, None))
        elif mtype is MessageType.DBIRTH:
            out.statuses.append(SourceStatus(topic.group, station, device, True, False, None))
        elif verdict is Verdict.GAP:
            out.statuses.append(SourceStatus(topic.group, station, "", True, True, "seq-gap"))
        received = datetime.now(UTC)
        fallback_ts = (datetime.fromtimestamp(payload.timestamp_ms / 1000, UTC)
                       if payload.timestamp_ms is not None else received)
        birth = mtype in (MessageType.NBIRTH, MessageType.DBIRTH)
        for m in payload.metrics:
            info: MetricInfo | None = self.sessions.resolve(topic.group, topic.edge_node, topic.device, m)
            if info is None:
                out.unknown_metrics += 1
                continue
            if info.name in _SKIP:
                continue
            if birth:
                unit = m.properties.get("engUnit")
                out.definitions.append(MetricDef(topic.group, station, device, info.name, info.datatype.name,
                                                 str(unit) if unit else None, m.alias))
            ts = datetime.fromtimestamp(m.timestamp_ms / 1000, UTC) if m.timestamp_ms is not None else fallback_ts
            value, text = _split_value(m.value, info.datatype)
            quality = m.quality.value
            reason = m.quality_reason or None
            if m.value is None and m.quality is Quality.GOOD:
                quality, reason = Quality.UNCERTAIN.value, "null"
            out.rows.append(PointRow(station, device, info.name, ts, value, text, quality, reason, m.is_historical))
        return out
