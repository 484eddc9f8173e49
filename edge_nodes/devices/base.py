"""The device seam: what every kind of device in a station file provides to the edge node, and where kinds register.

A device kind is one model class (its station-file entry, tagged by its ``protocol`` name) that
builds everything the edge node runs for such a device:

- ``source(context)``: the one object that talks to the device and emits snapshots (``edge_nodes/source.py``);
- ``watcher(source, node)``: what turns its readings into events (fuellings, deliveries, …), or None;
- ``commands(source)``: the command types it carries out, each with its payload model and handler;
- ``writer(source)``: what takes Sparkplug DCMD writes to its metrics, or None;
- ``price_writer(source)``: how a price set reaches its nozzles (``PriceWriter``: is a fuelling point idle now,
  write a nozzle's price and read it back), or None when the kind sells nothing (``edge_nodes/prices.py``);
- ``deadband``: how far a number must move before it is reported again (report by exception).

``register`` adds a kind; the station file accepts every registered ``protocol`` (``edge_nodes/station.py``).
The runtime never asks which kind a device is.
"""

from __future__ import annotations

import logging
import typing
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from edge_nodes.commands import DeviceCommand
from edge_nodes.outbox import Outbox
from edge_nodes.source import DeviceSource, SourceContext
from protocol_adapters.readings import Reading
from telemetry.contracts.commands import Result
from telemetry.contracts.events import CloudEvent
from telemetry.contracts.identifiers import Code

__all__ = ["DEVICE_KINDS", "Code", "DeviceEntry", "NodeServices", "PriceStamp", "PriceWriter", "Strict", "Watcher",
           "Writer", "event_watcher", "register"]

#: Called after each snapshot with the device's readings before it and now (already updated).
Watcher = Callable[[dict[str, Reading], dict[str, Reading]], Awaitable[None]]

#: (station, device, readings before, readings now) → the events that change reveals.
Detector = Callable[[str, str, dict[str, Reading], dict[str, Reading]], list[CloudEvent]]

log = logging.getLogger(__name__)


class Writer(Protocol):
    async def write(self, key: str, value: Any) -> None: ...


class PriceWriter(Protocol):
    """A device's price path (``edge_nodes/prices.py``): both re-ask the device, never a cached reading."""

    async def fp_idle(self, fuelling_point: int) -> bool:
        """Whether the fuelling point is idle now (no fuelling open or about to start)."""
        ...

    async def write_price(self, fuelling_point: int, nozzle: int, price_fen: int) -> tuple[Result, str]:
        """Write one nozzle's unit price; ``accepted`` only once the device reads the new price back."""
        ...


#: (device, fuelling point, nozzle, fuelling started at, its unit price) → the price-set version then in force.
PriceStamp = Callable[[str, int, int, datetime, int], "int | None"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True, slots=True)
class NodeServices:
    """What the edge node lends a device's watcher: the station code, the outbox and the event sink."""

    station: str
    outbox: Outbox
    emit_event: Callable[[CloudEvent], Awaitable[None]]
    price_set_at: PriceStamp | None = None     # stamps each fuelling.completed (edge_nodes/prices.py)


class DeviceEntry(Strict):
    """A device entry of a station file; each kind subclasses it with ``protocol: Literal[...]``."""

    code: Code
    deadband: Annotated[float, Field(ge=0)] = 0.0

    def source(self, context: SourceContext | None = None) -> DeviceSource:
        raise NotImplementedError

    def watcher(self, source: DeviceSource, node: NodeServices) -> Watcher | None:
        return None

    def commands(self, source: DeviceSource) -> dict[str, DeviceCommand]:
        return {}

    def writer(self, source: DeviceSource) -> Writer | None:
        return None

    def price_writer(self, source: DeviceSource) -> PriceWriter | None:
        return None


def event_watcher(code: str, node: NodeServices, detect: Detector) -> Watcher:
    """A watcher that emits whatever ``detect`` finds in the change from one snapshot to the next."""

    async def watch(before: dict[str, Reading], now: dict[str, Reading]) -> None:
        for event in detect(node.station, code, before, now):
            await node.emit_event(event)
            log.info("%s: %s %s", event.type, code, event.subject)
    return watch


#: Every device kind by its ``protocol`` tag in the station file.
DEVICE_KINDS: dict[str, type[DeviceEntry]] = {}


K = TypeVar("K", bound=type[DeviceEntry])


def register(kind: K) -> K:
    """Register a device kind under each ``protocol`` name its model accepts (a class decorator)."""
    field = kind.__pydantic_fields__.get("protocol")
    names = typing.get_args(field.annotation) if field is not None else ()
    if not names or not all(isinstance(n, str) for n in names):
        raise TypeError(f"{kind.__name__} needs a field 'protocol: Literal[\"<name>\"]'")
    for name in names:
        if DEVICE_KINDS.get(name, kind) is not kind:
            raise ValueError(f"protocol {name!r} is already registered by {DEVICE_KINDS[name].__name__}")
        DEVICE_KINDS[name] = kind
    return kind
