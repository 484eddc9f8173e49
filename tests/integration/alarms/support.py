"""A whole alarm path for tests: tank gauge simulator (TLS over TCP) → edge node → broker → IngestWorker →
PostgreSQL → alarm engine(s), with the rules a test writes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from edge_nodes.runtime import EdgeNode
from edge_nodes.station import load_station
from simulators.clock import ManualClock
from simulators.tank_gauge import TankGaugeConfig, TankGaugeServer
from telemetry.alarms.engine import AlarmEngine, Where
from telemetry.contracts.broker import BrokerAddress
from telemetry.ingest.worker import IngestWorker

STATION = "st-alarm"
STATION_FILE = """
station: {station}
devices:
  - code: atg-01
    protocol: tls
    host: 127.0.0.1
    port: {port}
    tanks: {tanks}
    poll_interval_s: 0.1
    timeout_s: 0.5
"""


@dataclass
class AlarmPath:
    gauge: TankGaugeServer
    clock: ManualClock
    conn: psycopg.AsyncConnection
    engines: list[AlarmEngine]
    edge: asyncio.Task[None] | None = None

    async def stop_edge(self) -> None:
        """The edge node goes away (cancelled: a clean disconnect, so only silence tells)."""
        if self.edge is not None:
            await _cancel(self.edge)

    async def height(self, tank: int = 1) -> float:
        """The tank's height as ingest stored it."""
        row = await (await self.conn.execute(
            "SELECT l.value FROM telemetry.latest l JOIN telemetry.metrics m USING (metric_id) "
            "WHERE m.station = %s AND m.device = 'atg-01' AND m.name = %s", (STATION, f"tank{tank}/height"))).fetchone()
        return float(row[0]) if row and row[0] is not None else float("nan")

    async def until(self, check: Callable[[], Any], what: str, within_s: float = 20.0) -> Any:
        deadline = asyncio.get_running_loop().time() + within_s
        while True:
            value = await check()
            if value:
                return value
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            await asyncio.sleep(0.1)

    async def stored_height_near(self, target: float, tank: int = 1, tolerance: float = 2.0) -> None:
        async def near() -> bool:
            return abs(await self.height(tank) - target) <= tolerance
        await self.until(near, f"ingest to store tank {tank} at {target:.0f} mm")

    async def journal(self, rule: str | None = None) -> list[tuple[str, str, str, str]]:
        """(event type, state from, state to, rule) of every transition, in order."""
        cur = await self.conn.execute(
            "SELECT event_type, state_from, state_to, rule FROM alarms.journal "
            "WHERE %s::text IS NULL OR rule = %s ORDER BY at, seq", (rule, rule))
        return [tuple(r) for r in await cur.fetchall()]  # type: ignore[misc]

    async def types(self, rule: str) -> list[str]:
        return [t for t, *_ in await self.journal(rule)]

    async def open_alarm(self, rule: str) -> tuple[Any, ...] | None:
        return await (await self.conn.execute(
            "SELECT alarm_id, state, active FROM alarms.alarms WHERE rule = %s AND closed_at IS NULL",
            (rule,))).fetchone()

    def litres_per_mm(self, tank: int = 1) -> float:
        """Roughly how many litres make a millimetre at the present level (from the simulator's own chart)."""
        t = self.gauge.tank(tank)
        h = t.reading().height_mm
        return float(t.chart.volume_l(h + 5) - t.chart.volume_l(h - 5)) / 10


async def _cancel(*tasks: asyncio.Task[None]) -> None:
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task


@contextlib.asynccontextmanager
async def alarm_path(database_url: str, broker: BrokerAddress, group: str, tmp_path: Path, rules_yaml: str, *,
                     tanks: tuple[int, ...] = (1,), engines: int = 1, config: TankGaugeConfig | None = None,
                     where: Where | None = None) -> AsyncIterator[AlarmPath]:
    clock = ManualClock()
    rules = tmp_path / "alarm-rules.yaml"
    rules.write_text(rules_yaml, encoding="utf-8")
    async with TankGaugeServer(config or TankGaugeConfig(tcp_port=0, serial=False), clock, port=0) as gauge, \
            await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        station_file = tmp_path / "station.yaml"
        station_file.write_text(STATION_FILE.format(station=STATION, port=gauge.port, tanks=list(tanks)),
                                encoding="utf-8")
        ingest = IngestWorker(database_url, broker, group=group, client_id=f"ingest-{group}", rollup_every_s=0)
        node = EdgeNode(load_station(station_file), broker, group=group)
        workers = [AlarmEngine(database_url, group=group, rules_file=rules, tick_s=0.2, where=where)
                   for _ in range(engines)]
        tasks = [asyncio.create_task(ingest.run())]
        await asyncio.wait_for(ingest.subscribed.wait(), 10)
        edge = asyncio.create_task(node.run())
        tasks.append(edge)
        path = AlarmPath(gauge, clock, conn, workers, edge)
        try:
            await path.until(lambda: _has_height(path), "the first tank height through ingest")
            tasks += [asyncio.create_task(w.run()) for w in workers]
            for w in workers:
                await asyncio.wait_for(w.ready.wait(), 10)
            yield path
        finally:
            await _cancel(*tasks)


async def _has_height(path: AlarmPath) -> bool:
    h = await path.height()
    return h == h  # not NaN
