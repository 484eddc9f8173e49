"""How many Modbus devices (50 registers each, polled at 1 Hz) one edge node keeps on schedule, on one core.

The devices live in a separate process (``benchmarks/modbus_farm.py``: a minimal Modbus TCP responder
whose registers change on every read, the worst case for report-by-exception). The edge node runs in
this process with its real pollers, outbox (SQLite) and MQTT publishing. For a growing number of
devices it reports polls per second, DDATA per second, schedule misses and the edge process's CPU use;
the largest count that stays under 1 % misses, keeps publishing up with polling, and fits one core
is the figure. Baseline: the same reads by
a bare pymodbus client loop in this process (the protocol ceiling).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from pathlib import Path

from pymodbus.client import AsyncModbusTcpClient

from benchmarks.figures import Figure
from edge_nodes import metrics
from edge_nodes.devices.modbus import ModbusDevice, PointConfig
from edge_nodes.runtime import EdgeNode
from edge_nodes.station import Station
from forecourt.local import LocalBroker
from telemetry.contracts.broker import BrokerAddress

REGISTERS = 50
STEPS = (100, 300, 600, 900)
RUN_S = 15.0


def _counter(metric: object, **labels: str) -> float:
    total = 0.0
    for family in metric.collect():  # type: ignore[attr-defined]
        for sample in family.samples:
            if sample.name.endswith("_total") and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


async def _run_edge(broker: BrokerAddress, ports: list[int], outbox: Path) -> dict[str, float]:
    points = tuple(PointConfig(key=f"r{i}", address=i) for i in range(REGISTERS))
    devices = [ModbusDevice(code=f"dev-{i:03d}", port=port, points=points, poll_interval_s=1.0, timeout_s=2.0)
               for i, port in enumerate(ports)]
    node = EdgeNode(Station(station="bench-edge", devices=devices), broker, group=f"bench{os.getpid()}",
                    outbox_path=outbox)
    polls0, misses0 = _counter(metrics.POLLS, outcome="ok"), _counter(metrics.SCHEDULE_MISSES)
    ddata0 = _counter(metrics.PUBLISHED, type="DDATA")
    task = asyncio.create_task(node.run())
    await asyncio.wait_for(node.connected.wait(), 30)
    await asyncio.sleep(2)                                     # settle
    p1, m1, d1 = (_counter(metrics.POLLS, outcome="ok"), _counter(metrics.SCHEDULE_MISSES),
                  _counter(metrics.PUBLISHED, type="DDATA"))
    cpu0, wall0 = time.process_time(), time.perf_counter()
    await asyncio.sleep(RUN_S)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    p2, m2, d2 = (_counter(metrics.POLLS, outcome="ok"), _counter(metrics.SCHEDULE_MISSES),
                  _counter(metrics.PUBLISHED, type="DDATA"))
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    del polls0, misses0, ddata0
    return {"polls_s": (p2 - p1) / wall, "misses": m2 - m1, "ddata_s": (d2 - d1) / wall, "cpu": cpu / wall}


async def _bare_reads(ports: list[int]) -> float:
    clients = [AsyncModbusTcpClient("127.0.0.1", port=p) for p in ports[:50]]
    for c in clients:
        await c.connect()
    reads, began = 0, time.perf_counter()
    while time.perf_counter() - began < 5:
        await asyncio.gather(*(c.read_holding_registers(0, count=REGISTERS, device_id=1) for c in clients))
        reads += len(clients)
    for c in clients:
        c.close()
    return reads / (time.perf_counter() - began)


async def run() -> list[Figure]:
    farm = subprocess.Popen([sys.executable, str(Path(__file__).with_name("modbus_farm.py")),  # noqa: ASYNC220
                             str(max(STEPS))],
                            stdout=subprocess.PIPE)
    assert farm.stdout is not None
    ports = [int(p) for p in farm.stdout.readline().split()]   # the farm says where it listens
    figures: list[Figure] = []
    try:
        async with AsyncExitStack() as stack:
            url = os.environ.get("FORECOURT_MQTT_URL")
            if url:
                broker = BrokerAddress.from_url(url)
            else:
                local = LocalBroker(Path(tempfile.mkdtemp(prefix="forecourt-bench-mqtt-")))
                broker = await local.start()
                stack.push_async_callback(local.stop)
            ceiling = await _bare_reads(ports)
            best = 0
            for n in STEPS:
                r = await _run_edge(broker, ports[:n], Path(tempfile.mkdtemp()) / "outbox.sqlite")
                # on schedule: polls on time, and publishing keeps up (every poll changes every value)
                on_schedule = r["misses"] <= 0.01 * r["polls_s"] * RUN_S and r["cpu"] < 0.95 and \
                    r["polls_s"] >= 0.97 * n and r["ddata_s"] >= 0.97 * n
                figures.append(Figure(f"edge with {n} devices: polls", r["polls_s"], "polls/s", ceiling,
                                      "bare pymodbus reads/s (50 clients)",
                                      f"{r['ddata_s']:.0f} DDATA/s, {r['misses']:.0f} late polls, "
                                      f"CPU {r['cpu'] * 100:.0f} % of one core"))
                if not on_schedule:
                    break
                best = n
            figures.append(Figure("devices on schedule at 1 Hz on one core", best, "devices",
                                  note=f"{REGISTERS} registers each, values changing on every read"))
    finally:
        farm.terminate()
        farm.wait(10)
    return figures
