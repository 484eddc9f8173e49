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
from telemetry.contracts.sparkplug import DataType, Metric, Payload
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
_QUALITY_TEXT = {q: q.value for q in Quality}       # a plain str per point, not the enum's property each time


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


TOPIC_CACHE_MAX = 10_000          # parsed topics kept (a station's topics repeat with every message)


class Decoder:
    def __init__(self, check_seq: bool = True, limits: Limits | None = None) -> None:
        self.sessions = HostSessions(check_seq)
        self.limits = limits or Limits()
        self._topics: dict[str, SparkplugTopic] = {}

    def restore(self, group: str, edge_node: str, registry: dict[tuple[str | None, int], MetricInfo]) -> None:
        """Take a node's aliases from storage (written from its births by any worker) when we missed them."""
        self.sessions.restore(group, edge_node, registry)

    def _topic(self, topic_name: str) -> SparkplugTopic:
        topic = self._topics.get(topic_name)
        if topic is None:
            try:
                topic = topics.parse(topic_name)
            except topics.TopicError as exc:
                raise UndecodableMessage(str(exc)) from exc
            if len(self._topics) >= TOPIC_CACHE_MAX:    # a bound, whatever topics a station makes up
                self._topics.clear()
            self._topics[topic_name] = topic
        return topic

    def decode(self, topic_name: str, raw: bytes) -> Decoded:
        """Raises ``UndecodableMessage`` for a bad topic or payload."""
        topic = self._topic(topic_name)
        try:
            self.limits.check_size(raw)
            timestamp_ms, seq, fields = sparkplug.decode_fields(
                raw, self.sessions.datatypes(topic.group, topic.edge_node, topic.device))
            self.limits.check_fields(timestamp_ms, fields)
        except (sparkplug.SparkplugDecodeError, LimitExceeded) as exc:
            raise UndecodableMessage(str(exc)) from exc
        mtype = topic.message_type
        if mtype in (MessageType.NCMD, MessageType.DCMD):
            return Decoded(topic, Verdict.ACCEPT, raw)
        birth = mtype in (MessageType.NBIRTH, MessageType.DBIRTH)
        # the session rules read the metrics only of births and deaths: data messages skip the objects
        metrics = tuple(Metric(*f) for f in fields) if birth or mtype is MessageType.NDEATH else ()
        verdict = self.sessions.observe(topic, Payload(timestamp_ms, seq, metrics))
        out = Decoded(topic, verdict, raw)
        station, device = topic.edge_node, topic.device or ""
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
        fallback_ts = (datetime.fromtimestamp(timestamp_ms / 1000, UTC)
                       if timestamp_ms is not None else datetime.now(UTC))
        times: dict[int, datetime] = {}     # the metrics of a message mostly share one timestamp
        resolve = self.sessions.resolver(topic.group, topic.edge_node, topic.device)
        append = out.rows.append
        for name, alias, ts_ms, datatype, value, historical, quality, reason, props in fields:
            info: MetricInfo | None = resolve(alias, name, datatype)
            if info is None:
                out.unknown_metrics += 1
                continue
            metric = info.name
            if metric in _SKIP:
                continue
            if birth:
                unit = props.get("engUnit")
                out.definitions.append(MetricDef(topic.group, station, device, metric, info.datatype.name,
                                                 str(unit) if unit else None, alias))
            if ts_ms is None:
                ts = fallback_ts
            elif (ts := times.get(ts_ms)) is None:  # type: ignore[assignment]
                ts = times[ts_ms] = datetime.fromtimestamp(ts_ms / 1000, UTC)
            if type(value) is float:             # the usual data point: a number, straight through
                append(PointRow(station, device, metric, ts, value, None, _QUALITY_TEXT[quality], reason or None,
                                historical))
                continue
            number, text = _split_value(value, info.datatype)
            if value is None and quality is Quality.GOOD:
                append(PointRow(station, device, metric, ts, number, text, "uncertain", "null", historical))
            else:
                append(PointRow(station, device, metric, ts, number, text, _QUALITY_TEXT[quality], reason or None,
                                historical))
        return out
