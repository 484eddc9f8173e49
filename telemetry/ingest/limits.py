"""What ingest accepts from the wire, checked before anything reaches the database.

A station's own MQTT login may publish any bytes on its topics, so every value that becomes a
row is checked here first: the payload's size, every timestamp (PostgreSQL and Python both have a
range, and a year-584,556,019 timestamp is not data), metric names (length, NUL), string values,
units and quality reasons (PostgreSQL text cannot hold NUL), aliases (they are stored as bigint) and
numbers (finite). A message that breaks a limit is refused whole, with the reason, and goes to the
dead letters; the messages beside it carry on. Pure: no I/O, no clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from telemetry.contracts.identifiers import METRIC_NAME_MAX
from telemetry.contracts.sparkplug import MetricFields, Payload, Value

TIMESTAMP_MIN_MS = 0                        # 1970-01-01T00:00:00Z
TIMESTAMP_MAX_MS = 7_258_118_400_000        # 2200-01-01T00:00:00Z
ALIAS_MAX = 2**63 - 1                       # telemetry.metrics.alias is a bigint


class LimitExceeded(ValueError):
    """A message that breaks one of the limits; the message says which and where."""


@dataclass(frozen=True, slots=True)
class Limits:
    payload_bytes: int = 1024 * 1024
    metric_name_chars: int = METRIC_NAME_MAX
    text_chars: int = 64 * 1024            # a string value
    label_chars: int = 256                  # an engineering unit or a quality reason

    def check_size(self, raw: bytes) -> None:
        if len(raw) > self.payload_bytes:
            raise LimitExceeded(f"payload of {len(raw)} bytes is over the limit of {self.payload_bytes}")

    def check(self, payload: Payload) -> None:
        """Raises ``LimitExceeded`` for the first thing in ``payload`` that no row may hold."""
        _check_timestamp(payload.timestamp_ms, "payload timestamp")
        for i, m in enumerate(payload.metrics):
            self._check_metric(i, m.name, m.alias, m.timestamp_ms, m.value, m.quality_reason,
                               m.properties.get("engUnit"))

    def check_fields(self, timestamp_ms: int | None, metrics: list[MetricFields]) -> None:
        """``check`` for a payload read by ``sparkplug.decode_fields``."""
        _check_timestamp(timestamp_ms, "payload timestamp")
        for i, (name, alias, ts, _, value, _, _, reason, props) in enumerate(metrics):
            if name is None and not reason and not props and type(value) is float and math.isfinite(value) and \
                    (alias is None or alias <= ALIAS_MAX) and (ts is None or TIMESTAMP_MIN_MS <= ts < TIMESTAMP_MAX_MS):
                continue        # the usual data metric: a finite number by alias, nothing else to check
            self._check_metric(i, name, alias, ts, value, reason, props.get("engUnit") if props else None)

    def _check_metric(self, index: int, name: str | None, alias: int | None, timestamp_ms: int | None,
                      value: Value, reason: str, unit: Value) -> None:
        if name is not None:
            if len(name) > self.metric_name_chars:
                raise LimitExceeded(f"{_where(index, name)}: name of {len(name)} characters is over the limit of "
                                    f"{self.metric_name_chars}")
            _check_text(name, index, name, "name")
        if alias is not None and alias > ALIAS_MAX:
            raise LimitExceeded(f"{_where(index, name)}: alias {alias} is over {ALIAS_MAX}")
        if timestamp_ms is not None and not TIMESTAMP_MIN_MS <= timestamp_ms < TIMESTAMP_MAX_MS:
            _check_timestamp(timestamp_ms, f"{_where(index, name)}: timestamp")
        if isinstance(value, str):
            if len(value) > self.text_chars:
                raise LimitExceeded(f"{_where(index, name)}: string of {len(value)} characters is over the limit of "
                                    f"{self.text_chars}")
            _check_text(value, index, name, "string value")
        elif isinstance(value, float) and not math.isfinite(value):
            raise LimitExceeded(f"{_where(index, name)}: {value} is not a finite number")
        for what, label in (("quality reason", reason), ("engUnit", unit)):
            if not label:
                continue
            text = str(label)
            if len(text) > self.label_chars:
                raise LimitExceeded(f"{_where(index, name)}: {what} of {len(text)} characters is over the limit "
                                    f"of {self.label_chars}")
            _check_text(text, index, name, what)


def _where(index: int, name: str | None) -> str:
    """Which metric, for a reason (built only when a limit is broken)."""
    return f"metric {index}" if name is None else f"metric {name[:40]!r}"


def _check_timestamp(ms: int | None, where: str) -> None:
    if ms is not None and not TIMESTAMP_MIN_MS <= ms < TIMESTAMP_MAX_MS:
        raise LimitExceeded(f"{where} {ms} ms is outside 1970-01-01 .. 2200-01-01")


def _check_text(text: str, index: int, name: str | None, what: str) -> None:
    if "\x00" in text:
        raise LimitExceeded(f"{_where(index, name)}: {what} holds a NUL character")
