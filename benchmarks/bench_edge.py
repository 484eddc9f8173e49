"""How many Modbus devices (50 registers each, polled at 1 Hz) one edge node keeps on schedule, on one core.

The devices live in a separate process (``benchmarks/modbus_farm.py``: a minimal Modbus TCP responder
whose registers change on every read, the worst case for report-by-exception). The edge node runs in
this process with its real pollers, outbox (SQLite) and MQTT publishing. A device count passes when
each of ``WINDOWS`` consecutive windows keeps up: under 1 % late polls, polls and DDATA per second at
least 97 % of the devices (publishing keeps up with polling), under one core (``capacity.Window``).
The count is bisected in steps of ``STEP`` (``capacity.search``), and the whole search is repeated
``SEARCHES`` times: one window or one search alone gave 100, 0, 600 and 900 devices in four runs on
this shared machine, so every window is printed and the figure is the median with its spread.
Baseline: the same reads by a bare pymodbus client loop in this process (the protocol ceiling).
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from pathlib import Path

from pymodbus.client import AsyncModbusTcpClient

from benchmarks.capacity import Window, passes, search, spread
from benchmarks.figures import Figure
from edge_nodes import metrics
from edge_nodes.devices.modbus import ModbusDevice, PointConfig
from edge_nodes.runtime import EdgeNode
from edge_nodes.station import Station
from forecourt.local import LocalBroker
from telemetry.contracts.broker import BrokerAddress

REGISTERS = 50
MOST, STEP = 1000, 50        # the counts searched: multiples of STEP up to MOST (the farm serves MOST devices)
WINDOWS, WINDOW_S = 3, 5.0   # a count passes when each of its WINDOWS windows keeps up
SETTLE_S = 3.0               # after the births, before the first window
SEARCHES = 3                 # repeated searches: their spread is part of the figure (about 5 minutes in all)


def _counter(metric: object, **labels: str) -> float:
    total = 0.0
    for family in metric.collect():  # type: ignore[attr-defined]
        for sample in family.samples:
            if sample.name.endswith("_total") and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


def _counters() -> tuple[float, float, float]:
    return (_counter(metrics.POLLS, outcome="ok"), _counter(metrics.SCHEDULE_MISSES),
            _counter(metrics.PUBLISHED, type="DDATA"))


async def _windows(broker: BrokerAddress, ports: list[int], windows: int) -> list[Window]:
    """One edge node polling ``len(ports)`` devices: up to ``windows`` consecutive windows, stopping after
    the first that falls behind."""
    points = tuple(PointConfig(key=f"r{i}", address=i) for i in range(REGISTERS))
    devices = [ModbusDevice(code=f"dev-{i:03d}", port=port, points=points, poll_interval_s=1.0, timeout_s=2.0)
               for i, port in enumerate(ports)]
    node = EdgeNode(Station(station="bench-edge", devices=devices), broker, group=f"bench{os.getpid()}",
                    outbox_path=Path(tempfile.mkdtemp(prefix="forecourt-bench-edge-")) / "outbox.sqlite")
    task = asyncio.create_task(node.run())
    measured: list[Window] = []
    try:
        await asyncio.wait_for(node.connected.wait(), 30)
        await asyncio.sleep(SETTLE_S)
        for _ in range(windows):
            (p1, m1, d1), cpu0, wall0 = _counters(), time.process_time(), time.perf_counter()
            await asyncio.sleep(WINDOW_S)
            (p2, m2, d2), cpu, wall = _counters(), time.process_time() - cpu0, time.perf_counter() - wall0
            window = Window(len(ports), wall, (p2 - p1) / wall, (d2 - d1) / wall, m2 - m1, cpu / wall)
            measured.append(window)
            if not window.keeps_up():
                break
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return measured


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


def _window_figure(attempt: int, w: Window, ceiling: float) -> Figure:
    verdict = "keeps up" if w.keeps_up() else "falls behind"
    return Figure(f"edge search {attempt}, {w.devices} devices: polls", w.polls_s, "polls/s", ceiling,
                  "bare pymodbus reads/s (50 clients)",
                  f"{w.ddata_s:.0f} DDATA/s, {w.misses:.0f} late polls, CPU {w.cpu * 100:.0f} % of one core "
                  f"({w.seconds:.1f} s window, machine load average {os.getloadavg()[0]:.1f}): {verdict}")


async def run() -> list[Figure]:
    farm = subprocess.Popen([sys.executable, str(Path(__file__).with_name("modbus_farm.py")),  # noqa: ASYNC220
                             str(MOST)],
                            stdout=subprocess.PIPE)
    assert farm.stdout is not None
    ports = [int(p) for p in farm.stdout.readline().split()]   # the farm says where it listens
    figures: list[Figure] = []
    logging.getLogger("mqtt").setLevel(logging.ERROR)   # aiomqtt warns of every pending publish beyond ten,
    try:                                                # tens of thousands of lines when publishing falls behind
        async with AsyncExitStack() as stack:
            url = os.environ.get("FORECOURT_MQTT_URL")
            if url:
                broker = BrokerAddress.from_url(url)
            else:
                local = LocalBroker(Path(tempfile.mkdtemp(prefix="forecourt-bench-mqtt-")))
                broker = await local.start()
                stack.push_async_callback(local.stop)
            ceiling = await _bare_reads(ports)
            found: list[float] = []
            for attempt in range(1, SEARCHES + 1):
                async def measure(devices: int, windows: int, attempt: int = attempt) -> list[Window]:
                    measured = await _windows(broker, ports[:devices], windows)
                    figures.extend(_window_figure(attempt, w, ceiling) for w in measured)
                    return measured

                found.append(await search(lambda n, measure=measure: passes(n, WINDOWS, measure), MOST, STEP))
            result, each = spread(found), ", ".join(f"{n:g}" for n in found)
            figures.append(Figure("devices on schedule at 1 Hz on one core", result.median, "devices",
                                  note=f"median of {SEARCHES} searches ({result}; each: {each}); "
                                       f"a count passes when all {WINDOWS} windows of {WINDOW_S:g} s keep up; "
                                       f"bisection in steps of {STEP} up to {MOST}; {REGISTERS} registers each, "
                                       "values changing on every read"))
    finally:
        farm.terminate()
        farm.wait(10)
    return figures
