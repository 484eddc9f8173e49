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
from telemetry.contracts.sparkplug import Metric, Payload

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
            self._check_metric(m, f"metric {i}" if m.name is None else f"metric {m.name[:40]!r}")

    def _check_metric(self, m: Metric, where: str) -> None:
        if m.name is not None:
            if len(m.name) > self.metric_name_chars:
                raise LimitExceeded(f"{where}: name of {len(m.name)} characters is over the limit of "
                                    f"{self.metric_name_chars}")
            _check_text(m.name, f"{where}: name")
        if m.alias is not None and m.alias > ALIAS_MAX:
            raise LimitExceeded(f"{where}: alias {m.alias} is over {ALIAS_MAX}")
        _check_timestamp(m.timestamp_ms, f"{where}: timestamp")
        value = m.value
        if isinstance(value, str):
            if len(value) > self.text_chars:
                raise LimitExceeded(f"{where}: string of {len(value)} characters is over the limit of "
                                    f"{self.text_chars}")
            _check_text(value, f"{where}: string value")
        elif isinstance(value, float) and not math.isfinite(value):
            raise LimitExceeded(f"{where}: {value} is not a finite number")
        labels = {"quality reason": m.quality_reason, "engUnit": m.properties.get("engUnit")}
        for what, label in labels.items():
            if label is None:
                continue
            text = str(label)
            if len(text) > self.label_chars:
                raise LimitExceeded(f"{where}: {what} of {len(text)} characters is over the limit of "
                                    f"{self.label_chars}")
            _check_text(text, f"{where}: {what}")


def _check_timestamp(ms: int | None, where: str) -> None:
    if ms is not None and not TIMESTAMP_MIN_MS <= ms < TIMESTAMP_MAX_MS:
        raise LimitExceeded(f"{where} {ms} ms is outside 1970-01-01 .. 2200-01-01")


def _check_text(text: str, where: str) -> None:
    if "\x00" in text:
        raise LimitExceeded(f"{where} holds a NUL character")
