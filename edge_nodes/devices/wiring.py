"""Builds, from a station's device entries, everything the edge node runs for them: one source per
device, the readings watchers, the command handlers, the DCMD writers and the price writers (``base.DeviceEntry``)."""

from __future__ import annotations

from collections.abc import Sequence

from edge_nodes.commands import DeviceCommand, Writable
from edge_nodes.devices.base import DeviceEntry, NodeServices, PriceWriter, Watcher
from edge_nodes.source import DeviceSource, SourceContext


class DeviceWiring:
    def __init__(self, devices: Sequence[DeviceEntry], node: NodeServices) -> None:
        context = SourceContext()       # shared by the sources, e.g. one serial line for many RTU units
        self.sources: list[DeviceSource] = []
        self.watchers: dict[str, Watcher] = {}
        self.commands: dict[tuple[str, str], DeviceCommand] = {}
        self.writers: dict[str, Writable] = {}
        self.price_writers: dict[str, PriceWriter] = {}
        for device in devices:
            source = device.source(context)
            self.sources.append(source)
            if (watcher := device.watcher(source, node)) is not None:
                self.watchers[device.code] = watcher
            for command_type, handler in device.commands(source).items():
                self.commands[(device.code, command_type)] = handler
            if (writer := device.writer(source)) is not None:
                self.writers[device.code] = writer
            if (prices := device.price_writer(source)) is not None:
                self.price_writers[device.code] = prices
