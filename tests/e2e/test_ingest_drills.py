"""Issue 12, item 2, as drills with real processes: ``forecourt ingest`` runs as its own process (one or two
workers of one primary host), a real edge node polls a dispenser simulator that is fuelling, and a feed adds
load. Every Sparkplug message the broker carries is recorded, so what was sent can be counted against what
is stored.

- Killed: the ingest process gets SIGKILL under load. Its will says STATE offline, the edge node ends its
  session and keeps its data; after the restart every reading sent and every fed point is stored once.
- Rolling restart: of two workers, one is stopped cleanly and started again, then the other. The host stays
  online: no NDEATH and no second NBIRTH from the edge node, and nothing is lost or doubled.
"""

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
from simulators.dispenser.states import PresetType
from telemetry.contracts import topics
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.session import parse_host_state
from telemetry.contracts.topics import MessageType
from tests.support.mqtt import Recorder, recording
from tests.support.sparkplug_feed import feed
from tests.support.station import dispenser

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(400), pytest.mark.serial]

FEED_COUNT = 600


class Ingest:
    """One ``forecourt ingest`` process of the host, with its own /healthz port."""

    def __init__(self, env: dict[str, str], worker_id: str, log: Path) -> None:
        self.env, self.worker_id, self.log = env, worker_id, log
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "forecourt.cli", "ingest"], stdout=self.log.open("ab"), stderr=subprocess.STDOUT,
            env=self.env | {"FORECOURT_INGEST_WORKER_ID": self.worker_id,
                            "FORECOURT_INGEST_METRICS_PORT": str(self.port)}, cwd=Path(__file__).parents[2])
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 90
        while not await self._healthy():
            assert loop.time() < deadline, f"ingest {self.worker_id} did not start\n{self.log.read_text()}"
            await asyncio.sleep(0.2)

    async def _healthy(self) -> bool:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        except OSError:
            return False
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        await writer.drain()
        response = await reader.read()
        writer.close()
        return response.startswith(b"HTTP/1.1 200")

    async def stop(self, sig: signal.Signals) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            await asyncio.to_thread(self.process.wait, 30)
        self.process = None


def _env(database_url: str, broker: BrokerAddress, group: str, host: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORECOURT_")}
    return env | {"FORECOURT_DATABASE_URL": database_url, "FORECOURT_MQTT_URL": broker.url(),
                  "FORECOURT_GROUP": group, "FORECOURT_INGEST_GROUP": group, "FORECOURT_PRIMARY_HOST_ID": host,
                  "FORECOURT_INGEST_SHARE_GROUP": group}


@contextlib.asynccontextmanager
async def fuelling_edge(broker: BrokerAddress, group: str, host: str, station: str, rec: Recorder,
                        tmp_path: Path) -> AsyncIterator[None]:
    """A real edge node (``forecourt edge``, its own process) polling a dispenser simulator in the middle of a
    long fuelling; yields once its NBIRTH is on the broker."""
    async with dispenser() as server:
        server.model.lift_nozzle(1, 1)
        server.model.authorise(1, PresetType.NONE, 0, 1)
        config = tmp_path / f"{station}.yaml"
        config.write_text(f"station: {station}\ndevices:\n  - code: disp-01\n    port: {server.port}\n"
                          "    profile: dispenser-v1\n    poll_interval_s: 0.05\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith("FORECOURT_")}
        env |= {"FORECOURT_MQTT_URL": broker.url(), "FORECOURT_MQTT_V5": "true" if broker.mqtt5 else "false",
                "FORECOURT_GROUP": group, "FORECOURT_PRIMARY_HOST_ID": host,
                "FORECOURT_DATA_DIR": str(tmp_path / "edge-data"), "FORECOURT_EDGE_METRICS_PORT": str(free_port())}
        edge = subprocess.Popen([sys.executable, "-m", "forecourt.cli", "edge", "--station", str(config)], env=env,
                                stdout=(tmp_path / "edge.log").open("ab"), stderr=subprocess.STDOUT,
                                cwd=Path(__file__).parents[2])
        try:
            await rec.wait_until(lambda: _count(rec, station, MessageType.NBIRTH) == 1, within_s=90)
            yield
        finally:
            edge.send_signal(signal.SIGINT)
            try:
                await asyncio.to_thread(edge.wait, 15)
            except subprocess.TimeoutExpired:
                edge.kill()
                edge.wait(5)


def _sent(rec: Recorder, station: str) -> set[tuple[str, str, int]]:
    """(device, metric, source ms) of every reading the edge node published (births and data)."""
    names: dict[tuple[str, int], str] = {}
    sent = set()
    for topic, payload in rec.sparkplug():
        if topic.edge_node != station or topic.device is None:
            continue
        for m in payload.metrics:
            if topic.message_type is MessageType.DBIRTH and m.name and m.alias is not None:
                names[(topic.device, m.alias)] = m.name
            if topic.message_type in (MessageType.DBIRTH, MessageType.DDATA) and m.timestamp_ms is not None:
                name = m.name or names[(topic.device, m.alias or 0)]
                sent.add((topic.device, name, m.timestamp_ms))
    return sent


async def _stored(database_url: str, station: str) -> list[tuple[str, str, int]]:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        rows = await (await conn.execute(
            """SELECT m.device, m.name, p.ts FROM telemetry.points p JOIN telemetry.metrics m USING (metric_id)
               WHERE m.station = %s""", (station,))).fetchall()
    return [(device, name, round(ts.timestamp() * 1000)) for device, name, ts in rows]


async def _wait_stored(database_url: str, station: str, expected: int, within_s: float = 20) -> list[
        tuple[str, str, int]]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while True:
        stored = await _stored(database_url, station)
        if len(stored) >= expected or loop.time() > deadline:
            return stored
        await asyncio.sleep(0.3)


def _count(rec: Recorder, station: str, mtype: MessageType) -> int:
    return sum(1 for t, _ in rec.sparkplug() if t.edge_node == station and t.message_type is mtype)


async def test_ingest_killed_under_load_loses_and_doubles_nothing(database_url: str, broker: BrokerAddress,
                                                                  group: str, tmp_path: Path) -> None:
    host = f"h-{group}"
    ingest = Ingest(_env(database_url, broker, group, host), "1", tmp_path / "ingest.log")
    fed: list[int] = []
    async with recording(broker, topics.group_filter(group)) as rec, \
            recording(broker, topics.state_topic(host)) as states:
        await ingest.start()
        try:
            async with fuelling_edge(broker, group, host, "st-drill", rec, tmp_path):
                load = asyncio.create_task(feed(broker, group, "st-feed", FEED_COUNT, 40.0, fed))
                await asyncio.sleep(4)
                await ingest.stop(signal.SIGKILL)
                await states.wait_until(lambda: parse_host_state(states.messages[-1][1]) is False, within_s=10)
                await rec.wait_until(lambda: _count(rec, "st-drill", MessageType.NDEATH) == 1, within_s=10)
                await asyncio.sleep(3)                              # the pump goes on; the edge keeps it
                assert _count(rec, "st-drill", MessageType.NBIRTH) == 1, "the edge node waits for its host"
                await ingest.start()
                await rec.wait_until(lambda: _count(rec, "st-drill", MessageType.NBIRTH) == 2, within_s=30)
                await load
                await asyncio.sleep(3)                              # the edge replays its outbox
                sent = _sent(rec, "st-drill")
            stored = await _wait_stored(database_url, "st-drill", len(_sent(rec, "st-drill")))
            feed_stored = await _wait_stored(database_url, "st-feed", FEED_COUNT)
            sent = _sent(rec, "st-drill")
        finally:
            await ingest.stop(signal.SIGINT)
    log = ingest.log.read_text(errors="replace") + (tmp_path / "edge.log").read_text(errors="replace")
    historical = sum(1 for t, p in rec.sparkplug() if t.edge_node == "st-drill" and t.message_type is
                     MessageType.DDATA and any(m.is_historical for m in p.metrics))
    assert len(fed) == FEED_COUNT and len(sent) > 200, f"load was real: {len(fed)} fed, {len(sent)} readings"
    assert historical > 0, "readings taken while the host was down were kept and replayed"
    assert sent - set(stored) == set(), f"{len(sent - set(stored))} of {len(sent)} readings lost\n{log}"
    assert len(stored) == len(set(stored)) == len(sent), "none doubled, nothing stored that was not sent"
    feed_values = sorted(name for _, name, _ in feed_stored if name == "counter")
    assert len(feed_values) == FEED_COUNT + 1, "every fed point once (plus its birth value)"


async def test_rolling_restart_of_two_workers_keeps_the_edge_session(database_url: str, broker: BrokerAddress,
                                                                     group: str, tmp_path: Path) -> None:
    if not broker.mqtt5:
        pytest.skip("two workers need shared subscriptions: an MQTT v5 broker (mosquitto)")
    host = f"h-{group}"
    env = _env(database_url, broker, group, host)
    workers = [Ingest(env, "1", tmp_path / "ingest-1.log"), Ingest(env, "2", tmp_path / "ingest-2.log")]
    fed: list[int] = []
    async with recording(broker, topics.group_filter(group)) as rec, \
            recording(broker, topics.state_topic(host)) as states:
        try:
            for w in workers:
                await w.start()
            async with fuelling_edge(broker, group, host, "st-roll", rec, tmp_path):
                load = asyncio.create_task(feed(broker, group, "st-feed", FEED_COUNT, 40.0, fed))
                for w in workers:                                   # one at a time, as a deployment does
                    await asyncio.sleep(2)
                    await w.stop(signal.SIGINT)
                    await asyncio.sleep(1)
                    await w.start()
                await load
                await asyncio.sleep(2)
                deaths, births = _count(rec, "st-roll", MessageType.NDEATH), _count(rec, "st-roll", MessageType.NBIRTH)
                offline = [raw for _, raw in states.messages if parse_host_state(raw) is False]
            sent = _sent(rec, "st-roll")
            stored = await _wait_stored(database_url, "st-roll", len(sent))
            feed_stored = await _wait_stored(database_url, "st-feed", FEED_COUNT + 1)
        finally:
            for w in workers:
                await w.stop(signal.SIGINT)
    logs = "\n".join(w.log.read_text(errors="replace") for w in workers) + (tmp_path / "edge.log").read_text()
    assert (deaths, births, offline) == (0, 1, []), f"the host stayed online for the edge node\n{logs}"
    assert len(sent) > 200
    assert sent - set(stored) == set(), f"{len(sent - set(stored))} of {len(sent)} readings lost\n{logs}"
    assert len(stored) == len(set(stored)) == len(sent)
    assert len(feed_stored) == FEED_COUNT + 1, "every fed point once (plus its birth value)"
