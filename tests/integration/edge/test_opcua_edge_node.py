"""A station file with the gas skid on OPC UA, run by the edge node: births carry the skid's metrics with
types and units, a fill shows up as DDATA, and the skid going away shows up as comm-loss."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from edge_nodes.devices.opcua import OpcUaSource
from edge_nodes.runtime import EdgeNode
from edge_nodes.station import load_station
from simulators.clock import SimClock
from simulators.gas_skid.config import GasSkidConfig
from simulators.gas_skid.server import GasSkidServer
from telemetry.contracts import topics
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.quality import Quality
from telemetry.contracts.sparkplug import DataType
from telemetry.contracts.topics import MessageType
from tests.support.mqtt import Recorder, recording

pytestmark = pytest.mark.integration

STATION = """
station: gas-01
devices:
  - protocol: opcua
    code: skid-01
    kind: gas_skid
    endpoint: {endpoint}
    profile: gas-skid-v1
    cng_dispensers: 2
    lng_dispensers: 2
    publishing_interval_ms: 50
    timeout_s: 1
    reconnect_s: 0.1
"""


async def _stop(task: asyncio.Task[None]) -> None:
    """Cancel until it ends: on Python 3.11 ``asyncio.wait_for`` (in the edge node's outbox drain) swallows a
    cancel that lands just as its wait ends, and the skid's changes make that likely."""
    while not task.done():
        task.cancel()
        await asyncio.wait([task], timeout=1.0)
    with contextlib.suppress(asyncio.CancelledError):
        await task


def _device_traffic(rec: Recorder, kind: MessageType) -> list[tuple[str, object, Quality, str]]:
    """(name, value, quality, reason) of each metric in the skid's messages of one kind; names from the birth."""
    names: dict[int, str] = {}
    out = []
    for topic, payload in rec.sparkplug():
        if topic.device != "skid-01":
            continue
        for m in payload.metrics:
            if m.name and m.alias is not None:
                names[m.alias] = m.name
            if topic.message_type is kind:
                out.append((m.name or names.get(m.alias or -1, "?"), m.value, m.quality, m.quality_reason))
    return out


async def test_gas_skid_in_a_station_file_publishes_sparkplug(broker: BrokerAddress, group: str,
                                                              tmp_path: Path) -> None:
    clock = SimClock(30.0)
    async with GasSkidServer(GasSkidConfig(), clock, port=0, publish_interval_s=0.05) as skid, \
            recording(broker, topics.group_filter(group)) as rec:
        path = tmp_path / "gas-01.yaml"
        path.write_text(STATION.format(endpoint=skid.endpoint), encoding="utf-8")
        node = EdgeNode(load_station(path), broker, group=group)
        task = asyncio.create_task(node.run())
        try:
            await asyncio.wait_for(node.connected.wait(), 15)
            await rec.wait_until(lambda: any(t.endswith("/DBIRTH/gas-01/skid-01") for t, _ in rec.messages))
            source = next(s for s in node.sources if isinstance(s, OpcUaSource))
            assert await source.call("GasSkid/CngDispenser1/StartFill", 0.0) == [1]
            await rec.wait_until(lambda: sum(n == "cng1/mass" for n, *_ in
                                             _device_traffic(rec, MessageType.DDATA)) >= 5)
            await skid.go_offline()
            await rec.wait_until(lambda: ("cng1/mass", None, Quality.BAD, "comm-loss")
                                 in _device_traffic(rec, MessageType.DDATA))
            await skid.go_online()
            await rec.wait_until(lambda: _device_traffic(rec, MessageType.DDATA)[-1][2] is Quality.GOOD)
        finally:
            await _stop(task)

    birth = next(p for t, p in rec.sparkplug() if t.message_type is MessageType.DBIRTH and t.device == "skid-01")
    metrics = {m.name: m for m in birth.metrics}
    assert len(metrics) == len(source.metrics)
    assert (metrics["cng1/mass"].datatype, metrics["cng1/mass"].properties) == (DataType.DOUBLE, {"engUnit": "kg"})
    assert metrics["cascade/high/pressure"].properties == {"engUnit": "MPa_g"}
    assert (metrics["cng1/price"].datatype, metrics["cng1/price"].value) == (DataType.INT32, 450)
    assert metrics["cng1/state_name"].value == "idle" and metrics["cng1/state_name"].quality is Quality.GOOD
    masses = [v for n, v, q, _ in _device_traffic(rec, MessageType.DDATA) if n == "cng1/mass" and q is Quality.GOOD]
    assert len(masses) >= 5 and max(masses) > 0  # type: ignore[type-var]
