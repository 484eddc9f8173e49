"""A station file with a TLS tank gauge: the edge node births its tank metrics with units and publishes them."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from edge_nodes.runtime import EdgeNode
from edge_nodes.station import load_station
from simulators.clock import ManualClock
from simulators.tank_gauge import TankGaugeConfig, TankGaugeServer
from telemetry.contracts import topics
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.quality import Quality
from telemetry.contracts.sparkplug import Metric
from telemetry.contracts.topics import MessageType
from tests.support.mqtt import Recorder, recording

pytestmark = pytest.mark.integration

STATION = """
station: st-tls
devices:
  - code: atg-01
    protocol: tls
    host: 127.0.0.1
    port: {port}
    tanks: [1, 2, 3]
    poll_interval_s: 0.1
    timeout_s: 0.3
"""


def _metrics(rec: Recorder, kind: MessageType) -> list[Metric]:
    return [m for t, p in rec.sparkplug() if t.message_type is kind and t.device == "atg-01" for m in p.metrics]


async def test_tank_gauge_births_and_reports_a_probe_fault(broker: BrokerAddress, group: str,
                                                           tmp_path: Path) -> None:
    clock = ManualClock()
    async with TankGaugeServer(TankGaugeConfig(tcp_port=0, serial=False), clock, port=0) as gauge, \
            recording(broker, topics.group_filter(group)) as rec:
        path = tmp_path / "station.yaml"
        path.write_text(STATION.format(port=gauge.port), encoding="utf-8")
        node = EdgeNode(load_station(path), broker, group=group)
        task = asyncio.create_task(node.run())
        try:
            await asyncio.wait_for(node.connected.wait(), 10)
            await rec.wait_until(lambda: _metrics(rec, MessageType.DBIRTH))
            birth = {m.name: m for m in _metrics(rec, MessageType.DBIRTH)}
            assert len(birth) == 36
            volume = birth["tank3/volume"]
            assert volume.properties.get("engUnit") == "L" and volume.quality is Quality.GOOD
            assert volume.value == pytest.approx(gauge.reading(3).volume_l, rel=1e-6)
            assert birth["tank1/temperature"].properties.get("engUnit") == "°C"
            assert birth["tank1/alarms"].value == ""

            gauge.faults.probe_out(3)
            alias = volume.alias
            await rec.wait_until(lambda: any(m.alias == alias and m.quality is Quality.BAD
                                             for m in _metrics(rec, MessageType.DDATA)))
            bad = node.current["atg-01"]["tank3/volume"]
            assert (bad.value, bad.quality, bad.reason) == (None, Quality.BAD, "sensor-fault")
            assert node.current["atg-01"]["tank1/volume"].quality is Quality.GOOD
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
