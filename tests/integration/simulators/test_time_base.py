"""One time base toward the edge: at speed 10, with the simulated day hours behind the wall clock (as a
scenario starting at 07:00 is), an edge node's point timestamps and its events' times sit within a few
seconds of each other and of the wall clock (docs/simulators.md, "Time base")."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from edge_nodes.devices.opcua import OpcUaSource
from edge_nodes.runtime import EdgeNode
from edge_nodes.station import load_station
from simulators.clock import SimClock
from simulators.dispenser.model import DispenserModel
from simulators.dispenser.server import DispenserServer
from simulators.gas_skid.config import GasSkidConfig
from simulators.gas_skid.server import GasSkidServer
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.events import CloudEvent
from telemetry.contracts.topics import events_filter, group_filter
from tests.support.mqtt import recording
from tests.support.station import ONE_SIDE, sell

pytestmark = pytest.mark.integration

SPEED = 10.0
BEHIND = timedelta(hours=10)      # the simulated day starts this long before the wall clock
SLACK = timedelta(seconds=5)

STATION = """
station: tb-01
devices:
  - code: disp-01
    kind: dispenser
    protocol: modbus-tcp
    host: 127.0.0.1
    port: {dispenser_port}
    profile: dispenser-v1
    fuelling_points: 1
    nozzles_per_point: 2
    poll_interval_s: 0.2
    timeout_s: 0.5
  - protocol: opcua
    code: skid-01
    kind: gas_skid
    endpoint: {endpoint}
    profile: gas-skid-v1
    cng_dispensers: 1
    lng_dispensers: 0
    publishing_interval_ms: 50
    timeout_s: 1
    reconnect_s: 0.1
"""



async def test_points_and_events_at_speed_10_are_on_the_wall_clock(broker: BrokerAddress, group: str,
                                                                   tmp_path: Path) -> None:
    clock = SimClock(SPEED, start=datetime.now(UTC) - BEHIND)
    began = datetime.now(UTC)
    async with DispenserServer(DispenserModel(ONE_SIDE, start=clock.stamp()), clock, port=0) as pump, \
            GasSkidServer(GasSkidConfig(), clock, port=0, publish_interval_s=0.05) as skid, \
            recording(broker, group_filter(group)) as rec, \
            recording(broker, events_filter(group, "tb-01")) as evrec:
        path = tmp_path / "tb-01.yaml"
        path.write_text(STATION.format(dispenser_port=pump.port, endpoint=skid.endpoint), encoding="utf-8")
        node = EdgeNode(load_station(path), broker, group=group)
        task = asyncio.create_task(node.run())
        try:
            await asyncio.wait_for(node.connected.wait(), 15)
            source = next(s for s in node.sources if isinstance(s, OpcUaSource))
            await asyncio.sleep(0.5)
            await source.call("GasSkid/CngDispenser1/StartFill", 2.0)
            assert await sell(pump, 300) == 0

            def events() -> list[CloudEvent]:
                return [CloudEvent.from_bytes(raw) for _, raw in evrec.messages]

            def both_done() -> bool:
                types = {e.type for e in events()}
                return any("fuel" in t for t in types) and any("gas_fill" in t for t in types)

            await rec.wait_until(both_done, within_s=30)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    ended = datetime.now(UTC)

    stamps = [datetime.fromtimestamp(m.timestamp_ms / 1000, UTC) for t, p in rec.sparkplug()
              if t.device in ("disp-01", "skid-01") for m in p.metrics if m.timestamp_ms is not None]
    skid_stamps = [datetime.fromtimestamp(m.timestamp_ms / 1000, UTC) for t, p in rec.sparkplug()
                   if t.device == "skid-01" for m in p.metrics if m.timestamp_ms is not None]
    assert stamps and skid_stamps
    late = [s for s in stamps if not began - SLACK <= s <= ended + SLACK]
    assert not late, f"{len(late)} point timestamps off the wall clock, e.g. {late[:3]} (run {began}..{ended})"
    for event in events():
        assert began - SLACK <= event.time <= ended + SLACK, (event.type, event.time, began, ended)
        nearest = min(abs(event.time - s) for s in stamps)
        assert nearest <= SLACK, (event.type, event.time, nearest)
