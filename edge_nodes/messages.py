"""Builds the edge node's Sparkplug B messages: births, data (live or historical), deaths.

Pure apart from reading the wall clock for payload timestamps; the session state (seq, bdSeq,
aliases) lives in ``EdgeSequencer``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from edge_nodes.source import MetricSpec
from protocol_adapters.readings import Reading
from telemetry.contracts import sparkplug, topics
from telemetry.contracts.quality import Quality
from telemetry.contracts.session import BDSEQ_METRIC, REBIRTH_METRIC, EdgeSequencer
from telemetry.contracts.sparkplug import DataType, Metric, Payload
from telemetry.contracts.topics import MessageType

MAX_METRICS_PER_MESSAGE = 500


def now_ms() -> int:
    return int(datetime.now(UTC).timestamp() * 1000)


def _ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


class NodeMessages:
    def __init__(self, group: str, station: str, sequencer: EdgeSequencer,
                 specs: dict[str, dict[str, MetricSpec]]) -> None:
        self.group = group
        self.station = station
        self.sequencer = sequencer
        self.specs = specs

    def topic(self, mtype: MessageType, device: str | None = None) -> str:
        if device is None:
            return topics.node_topic(self.group, mtype, self.station)
        return topics.device_topic(self.group, mtype, self.station, device)

    def metric(self, device: str, reading: Reading, *, birth: bool, historical: bool = False) -> Metric:
        spec = self.specs[device][reading.key]
        return Metric(
            name=reading.key if birth else None,
            alias=self.sequencer.alias(device, reading.key),
            timestamp_ms=_ms(reading.source_time),
            datatype=spec.datatype,
            value=reading.value,
            is_historical=historical,
            quality=reading.quality,
            quality_reason=reading.reason,
            properties={"engUnit": spec.unit} if birth and spec.unit else {},
        )

    def node_birth(self) -> bytes:
        now = now_ms()
        return sparkplug.encode(Payload(now, self.sequencer.birth_seq(), (
            Metric(BDSEQ_METRIC, self.sequencer.alias(None, BDSEQ_METRIC), now, DataType.INT64,
                   self.sequencer.bd_seq),
            Metric(REBIRTH_METRIC, self.sequencer.alias(None, REBIRTH_METRIC), now, DataType.BOOLEAN, False),
        )))

    def device_birth(self, device: str, current: dict[str, Reading]) -> bytes:
        """Every metric of the device with its current value (bad ``not-yet-read`` when never read)."""
        now = datetime.now(UTC)
        readings = [current.get(key) or Reading(key, None, now, Quality.BAD, "not-yet-read")
                    for key in self.specs[device]]
        return sparkplug.encode(Payload(_ms(now), self.sequencer.next_seq(),
                                        tuple(self.metric(device, r, birth=True) for r in readings)))

    def device_data(self, device: str, readings: list[Reading], *, historical: bool) -> bytes:
        return sparkplug.encode(Payload(now_ms(), self.sequencer.next_seq(), tuple(
            self.metric(device, r, birth=False, historical=historical) for r in readings)))

    def device_death(self) -> bytes:
        return sparkplug.encode(Payload(now_ms(), self.sequencer.next_seq()))

    def node_death(self) -> bytes:
        metric = Metric(BDSEQ_METRIC, None, now_ms(), DataType.INT64, self.sequencer.bd_seq)
        return sparkplug.encode(Payload(now_ms(), None, (metric,)))


class ReportByException:
    """Passes on only what changed since it was last passed on: a new quality, or a number beyond the deadband."""

    def __init__(self) -> None:
        self._last: dict[tuple[str, str], tuple[object, Quality]] = {}

    def changed(self, device: str, readings: tuple[Reading, ...], deadband: float) -> list[Reading]:
        out = []
        for r in readings:
            prev = self._last.get((device, r.key))
            if prev is not None and prev[1] == r.quality and not _differs(prev[0], r.value, deadband):
                continue
            self._last[(device, r.key)] = (r.value, r.quality)
            out.append(r)
        return out


def _differs(old: object, new: object, deadband: float) -> bool:
    if isinstance(old, (int, float)) and isinstance(new, (int, float)) and not isinstance(new, bool):
        return abs(float(new) - float(old)) > deadband if deadband else new != old
    return old != new
