"""Two gas detectors on one RS-485 line (a pseudo-terminal): one shared connection, two pollers, faults apart."""

import asyncio
import contextlib

import pytest

from edge_nodes.devices.modbus import ModbusRtuDevice
from edge_nodes.runtime import EdgeNode
from edge_nodes.station import Station
from simulators.clock import SimClock
from simulators.gas_detector.config import DetectorConfig, GasDetectorLineConfig
from simulators.gas_detector.server import GasDetectorServer
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.quality import Quality

pytestmark = pytest.mark.integration


async def test_two_detectors_share_a_line_and_a_sensor_fault_is_bad_quality(broker: BrokerAddress,
                                                                           group: str) -> None:
    line = GasDetectorLineConfig(detectors=(DetectorConfig(unit_id=1, warmup_s=0), DetectorConfig(unit_id=2,
                                                                                                    warmup_s=0)))
    async with GasDetectorServer(line, SimClock(speed=5.0)) as server:
        devices = [ModbusRtuDevice(protocol="modbus-rtu", code=f"lel-0{u}", kind="gas_detector", unit_id=u,
                                   serial_port=server.slave_path, profile="gas-detector-v1", poll_interval_s=0.2,
                                   timeout_s=0.5) for u in (1, 2)]
        node = EdgeNode(Station(station="st-rtu", devices=devices), broker, group=group)
        assert node.sources[0]._conn is node.sources[1]._conn, "one serial line, one connection"  # type: ignore[attr-defined]
        task = asyncio.create_task(node.run())
        try:
            await asyncio.wait_for(node.connected.wait(), 10)
            server.start_leak(2, peak_pct_lel=40.0, rise_s=1.0, hold_s=30.0, fall_s=1.0)
            server.faults.sensor_fault(1)
            for _ in range(100):
                one, two = node.current["lel-01"].get("concentration"), node.current["lel-02"].get("concentration")
                if one and two and one.quality is Quality.BAD and two.value and float(two.value) > 27:
                    break
                await asyncio.sleep(0.1)
            assert one is not None and one.quality is Quality.BAD and one.reason == "sensor-fault"
            assert two is not None and two.quality is Quality.GOOD and float(two.value) > 27  # type: ignore[arg-type]
            assert node.current["lel-02"]["status"].value & 0b10       # level-1 alarm bit
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
