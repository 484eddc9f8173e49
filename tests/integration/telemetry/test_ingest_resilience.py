"""Issue 5: ingest loses and doubles nothing when PostgreSQL is away for 30 s, or when a worker is killed."""

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
import pytest

from forecourt.local import EmbeddedPostgres, free_port
from forecourt.migrations import migrate
from telemetry.contracts.broker import BrokerAddress
from telemetry.ingest.worker import IngestWorker
from tests.support.health import healthy
from tests.support.sparkplug_feed import feed

pytestmark = [pytest.mark.integration, pytest.mark.serial]


async def _counter_rows(url: str, node: str) -> tuple[int, int, int]:
    """(rows, distinct values, max value) of the fed counter."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        row = await (await conn.execute(
            """SELECT count(*), count(DISTINCT p.value), coalesce(max(p.value), 0) FROM telemetry.points p
               JOIN telemetry.metrics m USING (metric_id) WHERE m.station = %s AND m.name = 'counter'
               AND p.value > 0""", (node,))).fetchone()
    return int(row[0]), int(row[1]), int(row[2])  # type: ignore[index]


async def _wait_rows(url: str, node: str, expected: int, within_s: float = 60) -> tuple[int, int, int]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while True:
        try:
            got = await _counter_rows(url, node)
        except psycopg.OperationalError:
            got = (0, 0, 0)
        if got[0] >= expected or loop.time() > deadline:
            return got
        await asyncio.sleep(0.2)


async def test_postgres_away_for_30_seconds_loses_and_doubles_nothing(broker: BrokerAddress, group: str) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="forecourt-test-pgstop-"))
    pg = EmbeddedPostgres(data_dir)
    try:
        url = pg.start()
        migrate(url)
        port = pg.port
        worker = IngestWorker(url, broker, group=group, client_id=f"i-{group}", rollup_every_s=0)
        task = asyncio.create_task(worker.run())
        await asyncio.wait_for(worker.subscribed.wait(), 10)
        sent: list[int] = []
        feeding = asyncio.create_task(feed(broker, group, "st-pg", 450, 10.0, sent))   # 45 s of data
        while len(sent) < 50:
            await asyncio.sleep(0.1)
        await asyncio.to_thread(pg.stop)                    # the database goes away for 30 s
        await asyncio.sleep(30)
        assert len(sent) > 300, "data kept coming while the database was away"
        await asyncio.to_thread(pg.start, port)
        await feeding
        rows, distinct, top = await _wait_rows(url, "st-pg", 450)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        assert (rows, distinct, top) == (450, 450, 450), "every point once, none lost, none doubled"
    finally:
        pg.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def _worker(env: dict[str, str], worker_id: str, log: Path, port: int | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "forecourt.cli", "ingest"],
                            env=env | {"FORECOURT_INGEST_WORKER_ID": worker_id, "FORECOURT_INGEST_METRICS_PORT":
                                       str(port or free_port())},
                            stdout=log.open("ab"), stderr=subprocess.STDOUT, cwd=Path(__file__).parents[3])


async def test_a_killed_worker_loses_nothing(database_url: str, broker: BrokerAddress, group: str,
                                             tmp_path: Path) -> None:
    if not broker.mqtt5:
        pytest.skip("shared subscriptions need an MQTT v5 broker (mosquitto); the in-process one speaks 3.1.1")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORECOURT_")}
    env |= {"FORECOURT_DATABASE_URL": database_url, "FORECOURT_MQTT_URL": broker.url(), "FORECOURT_GROUP": group,
            "FORECOURT_INGEST_GROUP": group, "FORECOURT_PRIMARY_HOST_ID": "", "FORECOURT_INGEST_SHARE_GROUP": group}
    log = tmp_path / "workers.log"
    ports = free_port(), free_port()
    one, two = _worker(env, "1", log, ports[0]), _worker(env, "2", log, ports[1])
    try:
        await asyncio.gather(*(healthy(p) for p in ports))   # both in the shared group (slow on a busy machine)
        sent: list[int] = []
        feeding = asyncio.create_task(feed(broker, group, "st-kill", 300, 20.0, sent))
        while len(sent) < 100:
            await asyncio.sleep(0.1)
        one.send_signal(signal.SIGKILL)                      # worker 1 dies mid-stream
        one.wait(10)
        await feeding                                        # worker 2 takes the rest of the traffic
        rows_without_one = (await _wait_rows(database_url, "st-kill", 300, within_s=10))[0]
        one = _worker(env, "1", log)                         # back: its persistent session redelivers
        rows, distinct, top = await _wait_rows(database_url, "st-kill", 300)
    finally:
        for w in (one, two):
            w.send_signal(signal.SIGINT)
            w.wait(20)
    assert rows_without_one >= 150, f"the surviving worker carried the traffic: {rows_without_one}\n{log.read_text()}"
    assert (rows, distinct, top) == (300, 300, 300), log.read_text()
