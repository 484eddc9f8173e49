"""The rows telemetry writes: metric definitions, points and source status (plain data)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class MetricDef:
    group: str
    station: str
    device: str          # '' for node metrics
    name: str
    datatype: str
    unit: str | None
    alias: int | None = None


@dataclass(frozen=True, slots=True)
class PointRow:
    station: str
    device: str
    name: str
    ts: datetime
    value: float | None
    value_text: str | None
    quality: str
    reason: str | None
    historical: bool


@dataclass(frozen=True, slots=True)
class SourceStatus:
    group: str
    station: str
    device: str
    online: bool
    stale: bool
    reason: str | None
