"""A device type added through the documented seam (docs/how-to/add-a-device-type.md), runtime.py untouched.

The kind lives only in this test: an in-memory car-wash coin counter (``protocol: test-coin-counter``)
with a source, a watcher that emits ``coins.emptied`` when the count drops, and a command
``command.empty_coins``. It is registered here, read from a station file, and run in a real
``EdgeNode`` against a real broker: its data in the births and DDATA, its event and its command's
acknowledgement all arrive on MQTT.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import aiomqtt
import pytest
from pydantic import BaseModel

from edge_nodes.commands import DeviceCommand
from edge_nodes.devices.base import DEVICE_KINDS, DeviceEntry, NodeServices, Watcher, register
from edge_nodes.runtime import EdgeNode
from edge_nodes.source import DeviceSource, Emit, MetricSpec, Snapshot, SourceContext
from edge_nodes.station import StationConfigError, load_station
from protocol_adapters.readings import Reading
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.commands import Result, command_topic
from telemetry.contracts.events import CloudEvent
from telemetry.contracts.identifiers import Code
from telemetry.contracts.sparkplug import DataType
from telemetry.contracts.topics import MessageType, events_filter, group_filter
from tests.support.mqtt import recording

pytestmark = pytest.mark.integration

EMPTY_COINS = "command.empty_coins"
EMPTIED = "coins.emptied"


class EmptyCoins(BaseModel):
    device: Code


class CoinCounterSource:
    """Counts one coin per poll; ``empty()`` sets the count back to zero."""

    def __init__(self, code: str, interval_s: float) -> None:
        self.code = code
        self.metrics = {"coins": MetricSpec("coins", DataType.INT64)}
        self.coins = 0
        self.interval_s = interval_s

    async def run(self, emit: Emit) -> None:
        while True:
            self.coins += 1
            await emit(Snapshot(self.code, (Reading("coins", self.coins, datetime.now(UTC)),), available=True))
            await asyncio.sleep(self.interval_s)


class CoinCounterDevice(DeviceEntry):
    protocol: Literal["test-coin-counter"]
    poll_interval_s: float = 0.1

    def source(self, context: SourceContext | None = None) -> CoinCounterSource:
        return CoinCounterSource(self.code, self.poll_interval_s)

    def watcher(self, source: DeviceSource, node: NodeServices) -> Watcher | None:
        async def watch(before: dict[str, Reading], now: dict[str, Reading]) -> None:
            old, new = before.get("coins"), now["coins"]
            if old is not None and isinstance(old.value, int) and isinstance(new.value, int) and new.value < old.value:
                await node.emit_event(CloudEvent(source=f"forecourt/{node.station}/edge", type=EMPTIED,
                                                 subject=self.code, data={"coins": old.value}))
        return watch

    def commands(self, source: DeviceSource) -> dict[str, DeviceCommand]:
        assert isinstance(source, CoinCounterSource)

        async def empty(command: EmptyCoins) -> tuple[Result, str]:
            taken, source.coins = source.coins, 0
            return "accepted", f"{taken} coins taken out"
        return {EMPTY_COINS: DeviceCommand(EmptyCoins, empty)}


@pytest.fixture
def coin_counter_kind() -> Iterator[None]:
    register(CoinCounterDevice)
    try:
        yield
    finally:
        DEVICE_KINDS.pop("test-coin-counter")


def _station_file(tmp_path: Path) -> Path:
    path = tmp_path / "st-wash.yaml"
    path.write_text("station: st-wash\ndevices:\n  - {code: wash-01, protocol: test-coin-counter}\n",
                    encoding="utf-8")
    return path


def test_an_unregistered_kind_is_a_station_file_error(tmp_path: Path) -> None:
    with pytest.raises(StationConfigError, match="test-coin-counter"):
        load_station(_station_file(tmp_path))


@pytest.mark.usefixtures("coin_counter_kind")
async def test_a_registered_kind_runs_in_a_real_edge_node(tmp_path: Path, broker: BrokerAddress,
                                                          group: str) -> None:
    node = EdgeNode(load_station(_station_file(tmp_path)), broker, group=group)
    async with recording(broker, group_filter(group)) as sparkplug, \
            recording(broker, events_filter(group, "st-wash")) as events:
        task = asyncio.create_task(node.run())
        try:
            await asyncio.wait_for(node.connected.wait(), 10)
            await sparkplug.wait_until(lambda: sum(t.message_type is MessageType.DDATA
                                                   for t, _ in sparkplug.sparkplug()) >= 2)
            async with aiomqtt.Client(**broker.client_kwargs()) as office:
                command = CloudEvent(source="head-office", type=EMPTY_COINS, data={"device": "wash-01"})
                await office.publish(command_topic(group, "st-wash", EMPTY_COINS), command.to_bytes(), qos=1)
            await events.wait_until(lambda: {t.rsplit("/", 1)[-1] for t, _ in events.messages}
                                    >= {EMPTIED, "command.acknowledged"})
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    births = [p for t, p in sparkplug.sparkplug() if t.message_type is MessageType.DBIRTH and t.device == "wash-01"]
    assert births and "coins" in {m.name for m in births[0].metrics}
    counts = [m.value for t, p in sparkplug.sparkplug() if t.message_type is MessageType.DDATA for m in p.metrics]
    assert len(counts) >= 2 and all(isinstance(c, int) and c > 0 for c in counts)
    by_type = {t.rsplit("/", 1)[-1]: CloudEvent.from_bytes(raw) for t, raw in events.messages}
    ack = by_type["command.acknowledged"]
    assert ack.data["command_id"] == command.id and ack.data["result"] == "accepted"
    emptied = by_type[EMPTIED]
    assert emptied.subject == "wash-01" and isinstance(emptied.data["coins"], int) and emptied.data["coins"] >= 2
