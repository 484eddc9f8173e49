"""Gap 2 of issue 17: head office raises a station's uplink comm-loss alarm when its edge node is killed (a real
``forecourt edge`` process, SIGKILL: no clean disconnect, the broker publishes its will, the NDEATH) and returns it
when the edge node comes back (a new process: NBIRTH).

The path: tank gauge simulator (TLS over TCP) → ``forecourt edge`` process → broker → IngestWorker
(``telemetry.sources``) → head office's alarm engine with the station in its station servers (so it evaluates only
the uplink). The rule's silence limit is far longer than the test, so only the death certificate can raise it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import psycopg
import pytest

from forecourt.local import free_port
from simulators.clock import ManualClock
from simulators.tank_gauge import TankGaugeConfig, TankGaugeServer
from telemetry.alarms.engine import AlarmEngine, Where
from telemetry.contracts import topics
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.topics import MessageType
from telemetry.ingest.worker import IngestWorker
from tests.integration.alarms.support import STATION, STATION_FILE, AlarmPath
from tests.support.mqtt import Recorder, recording

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

UPLINK_RULES = """
rules:
  - code: u.uplink
    kind: comm_loss
    device: ""
    limit: 3600         # an hour of silence: far longer than this test, so only an NDEATH raises it
    priority: high
    message: 站点通信中断
"""


def _deaths(rec: Recorder) -> int:
    return sum(1 for t, _ in rec.sparkplug() if t.message_type is MessageType.NDEATH and t.edge_node == STATION)


def _births(rec: Recorder) -> int:
    return sum(1 for t, _ in rec.sparkplug() if t.message_type is MessageType.NBIRTH and t.edge_node == STATION)


class EdgeProcess:
    """``forecourt edge`` for the station, as a child process that can be killed."""

    def __init__(self, broker: BrokerAddress, group: str, station_file: Path, tmp_path: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FORECOURT_")}
        env |= {"FORECOURT_MQTT_URL": broker.url(), "FORECOURT_MQTT_V5": "true" if broker.mqtt5 else "false",
                "FORECOURT_GROUP": group, "FORECOURT_PRIMARY_HOST_ID": "",
                "FORECOURT_DATA_DIR": str(tmp_path / "data"), "FORECOURT_EDGE_METRICS_PORT": str(free_port())}
        self.env, self.station_file, self.log = env, station_file, tmp_path / "edge.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "forecourt.cli", "edge", "--station", str(self.station_file)], env=self.env,
            stdout=self.log.open("ab"), stderr=subprocess.STDOUT, cwd=Path(__file__).parents[3])

    async def kill(self) -> None:
        """SIGKILL: the process cannot say goodbye; its TCP connection just ends."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await asyncio.to_thread(self.process.wait, 15)

    async def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                await asyncio.to_thread(self.process.wait, 15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                await asyncio.to_thread(self.process.wait, 5)


@contextlib.asynccontextmanager
async def head_office(database_url: str, broker: BrokerAddress, group: str,
                      tmp_path: Path) -> AsyncIterator[tuple[AlarmPath, EdgeProcess]]:
    rules = tmp_path / "alarm-rules.yaml"
    rules.write_text(UPLINK_RULES, encoding="utf-8")
    clock = ManualClock()
    async with TankGaugeServer(TankGaugeConfig(tcp_port=0, serial=False), clock, port=0) as gauge, \
            await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        station_file = tmp_path / "station.yaml"
        station_file.write_text(STATION_FILE.format(station=STATION, port=gauge.port, tanks=[1]), encoding="utf-8")
        ingest = IngestWorker(database_url, broker, group=group, client_id=f"ingest-{group}", rollup_every_s=0)
        engine = AlarmEngine(database_url, group=group, rules_file=rules, tick_s=0.2,
                             where=Where(role="head-office", station_servers=frozenset({STATION})))
        edge = EdgeProcess(broker, group, station_file, tmp_path)
        tasks = [asyncio.create_task(ingest.run())]
        try:
            await asyncio.wait_for(ingest.subscribed.wait(), 10)
            tasks.append(asyncio.create_task(engine.run()))
            await asyncio.wait_for(engine.ready.wait(), 10)
            yield AlarmPath(gauge, clock, conn, [engine]), edge
        finally:
            await edge.stop()
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task


async def _online(path: AlarmPath) -> bool:
    row = await (await path.conn.execute(
        "SELECT online FROM telemetry.sources WHERE station = %s AND device = ''", (STATION,))).fetchone()
    return bool(row and row[0])


async def test_a_killed_edge_node_raises_the_uplink_alarm_by_its_will_and_returns_when_it_is_back(
        database_url: str, broker: BrokerAddress, group: str, tmp_path: Path) -> None:
    async with recording(broker, topics.group_filter(group)) as rec, \
            head_office(database_url, broker, group, tmp_path) as (path, edge):
        edge.start()
        await rec.wait_until(lambda: _births(rec) == 1, within_s=90)
        await path.until(lambda: _online(path), "the edge node online in telemetry.sources", within_s=30)
        await path.stored_height_near(path.gauge.reading(1).height_mm)
        before = path.engines[0].evaluations
        await path.until(lambda: _at_least(path, before + 3), "the engine to evaluate the live uplink")
        assert await path.types("u.uplink") == []

        await edge.kill()
        await rec.wait_until(lambda: _deaths(rec) == 1, within_s=30)   # the broker published the will
        await path.until(lambda: _types(path, ["alarm.raised"]), "the uplink alarm raised by the NDEATH")
        source = await (await path.conn.execute(
            "SELECT source, state, active FROM alarms.alarms WHERE rule = 'u.uplink'")).fetchone()
        assert source == (STATION, "unacknowledged", True)

        edge.start()                                                     # the station's PC is back
        await rec.wait_until(lambda: _births(rec) == 2, within_s=90)
        await path.until(lambda: _types(path, ["alarm.raised", "alarm.returned"]),
                         "the uplink alarm returned when the edge node is born again")
        state = await (await path.conn.execute(
            "SELECT state, active FROM alarms.alarms WHERE rule = 'u.uplink'")).fetchone()
        assert state == ("returned_unacknowledged", False)


async def _at_least(path: AlarmPath, n: int) -> bool:
    return path.engines[0].evaluations >= n


async def _types(path: AlarmPath, expected: list[str]) -> bool:
    return await path.types("u.uplink") == expected
