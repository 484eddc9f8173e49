"""Gas level 1 and 2 (25 / 50 %LEL) through the gas detector simulator (Modbus RTU on a pseudo-terminal) → edge
node → broker → IngestWorker → alarm engine, with the rules shipped in config/alarm-rules.yaml; a sensor fault
on the other detector raises the detector-fault alarm."""

from __future__ import annotations

import asyncio
import contextlib

import psycopg
import pytest

from edge_nodes.devices.modbus import ModbusRtuDevice
from edge_nodes.runtime import EdgeNode
from edge_nodes.station import Station
from simulators.clock import ManualClock
from simulators.gas_detector.config import DetectorConfig, GasDetectorLineConfig
from simulators.gas_detector.server import GasDetectorServer
from telemetry.alarms.engine import AlarmEngine
from telemetry.alarms.rules import DEFAULT_FILE
from telemetry.contracts.broker import BrokerAddress
from telemetry.ingest.worker import IngestWorker

pytestmark = pytest.mark.integration

STATION = "st-gas"


async def _journal(conn: psycopg.AsyncConnection) -> list[tuple[str, str, str]]:
    cur = await conn.execute("SELECT rule, source, event_type FROM alarms.journal ORDER BY at, seq")
    return [tuple(r) for r in await cur.fetchall()]  # type: ignore[misc]


async def _until(conn: psycopg.AsyncConnection, wanted: set[tuple[str, str, str]], what: str,
                 within_s: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + within_s
    while not wanted <= set(await _journal(conn)):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}: {await _journal(conn)}")
        await asyncio.sleep(0.1)


async def test_gas_levels_and_a_detector_fault(database_url: str, broker: BrokerAddress, group: str) -> None:
    clock = ManualClock()
    line = GasDetectorLineConfig(detectors=(DetectorConfig(unit_id=1, warmup_s=0),
                                            DetectorConfig(unit_id=2, warmup_s=0)))
    async with GasDetectorServer(line, clock) as server, \
            await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        devices = [ModbusRtuDevice(protocol="modbus-rtu", code=f"lel-0{u}", kind="gas_detector", unit_id=u,
                                   serial_port=server.slave_path, profile="gas-detector-v1", poll_interval_s=0.2,
                                   timeout_s=0.5) for u in (1, 2)]
        ingest = IngestWorker(database_url, broker, group=group, client_id=f"ingest-{group}", rollup_every_s=0)
        node = EdgeNode(Station(station=STATION, devices=devices), broker, group=group)
        engine = AlarmEngine(database_url, group=group, rules_file=DEFAULT_FILE, tick_s=0.2)
        tasks = [asyncio.create_task(ingest.run())]
        try:
            await asyncio.wait_for(ingest.subscribed.wait(), 10)
            tasks += [asyncio.create_task(node.run()), asyncio.create_task(engine.run())]
            await asyncio.wait_for(engine.ready.wait(), 10)
            server.start_leak(2, peak_pct_lel=60.0, rise_s=30.0, hold_s=60.0, fall_s=30.0)
            for _ in range(30):                       # the leak rises over 30 simulated seconds, polled as it goes
                clock.advance(1.0)
                await asyncio.sleep(0.1)
            await _until(conn, {("gas.level1", "lel-02/concentration", "alarm.raised"),
                                ("gas.level2", "lel-02/concentration", "alarm.raised")}, "gas level 1 and 2")
            priorities = dict(await (await conn.execute("SELECT rule, priority FROM alarms.alarms")).fetchall())
            assert priorities == {"gas.level1": "high", "gas.level2": "urgent"}
            clock.advance(60.0 + 31.0)                # held, then gone
            await _until(conn, {("gas.level1", "lel-02/concentration", "alarm.returned"),
                                ("gas.level2", "lel-02/concentration", "alarm.returned")}, "the gas gone")
            server.faults.sensor_fault(1)
            await _until(conn, {("gas.detector.fault", "lel-01/concentration", "alarm.raised")},
                         "the detector fault (after its 5 s on-delay)")
            assert not any(source.startswith("lel-01") and rule.startswith("gas.level")
                           for rule, source, _ in await _journal(conn))
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
