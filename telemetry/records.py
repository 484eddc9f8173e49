"""The rows telemetry writes: metric definitions, points and source status (plain data)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple


@dataclass(frozen=True, slots=True)
class MetricDef:
    group: str
    station: str
    device: str          # '' for node metrics
    name: str
    datatype: str
    unit: str | None
    alias: int | None = None


class PointRow(NamedTuple):
    """One point. Immutable like the others, but a ``NamedTuple``: ingest makes one per point, and a frozen
    dataclass's ``__init__`` (an ``object.__setattr__`` per field) costs about three times as much."""

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
