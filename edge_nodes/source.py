"""What the edge node needs from any device, whatever its protocol: its metrics and a loop that reads it.

A device source is built from its station-file entry (``edge_nodes/devices/<protocol>.py``), is the
only object that talks to that device, and hands ``Snapshot``s of readings to the edge node.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from protocol_adapters.readings import Reading
from telemetry.contracts.sparkplug import DataType


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """A metric as the edge node announces it in the device's birth."""

    key: str
    datatype: DataType
    unit: str | None = None


@dataclass(frozen=True, slots=True)
class Snapshot:
    device: str
    readings: tuple[Reading, ...]
    available: bool
    reason: str = ""


Emit = Callable[[Snapshot], Awaitable[None]]


class SourceContext:
    """What sources of one edge node share, e.g. one serial line (one connection) for many RTU units."""

    def __init__(self) -> None:
        self.shared: dict[object, object] = {}


class DeviceSource(Protocol):
    code: str
    metrics: dict[str, MetricSpec]

    async def run(self, emit: Emit) -> None:
        """Read the device until cancelled, emitting snapshots; never raises for device trouble."""
