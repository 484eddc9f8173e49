"""Ingest throughput and latency, next to the machine's ceiling measured in the same run.

- ceiling: the same point rows written by a bare ``COPY`` from Python into ``telemetry.points``;
- end to end: Sparkplug DDATA (50 metrics each) published at full speed to the broker, decoded and
  committed by one ``IngestWorker``: points per second from the first publish to the last commit;
- latency: a dispenser simulator polled every 0.1 s by an edge node while it dispenses; for every
  committed latest value, commit time minus source time (p50 and p99).

Uses ``FORECOURT_DATABASE_URL`` / ``FORECOURT_MQTT_URL`` when set, else starts the embedded ones.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
import uuid
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiomqtt
import psycopg

from benchmarks.figures import Figure
from forecourt.local import EmbeddedPostgres, LocalBroker
from forecourt.migrations import migrate
from telemetry.contracts import sparkplug, topics
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.sparkplug import DataType, Metric, Payload
from telemetry.contracts.topics import MessageType
from telemetry.ingest.worker import IngestWorker

MESSAGES, METRICS = 2000, 50          # 100 000 points


async def _database(stack: AsyncExitStack) -> str:
    url = os.environ.get("FORECOURT_DATABASE_URL")
    if url is None:
        pg = EmbeddedPostgres(Path(tempfile.mkdtemp(prefix="forecourt-bench-pg-")))
        url = await asyncio.to_thread(pg.start)
        stack.callback(pg.stop)
    name = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    db = url.rsplit("/", 1)[0] + f"/{name}"
    await asyncio.to_thread(migrate, db)
    return db


async def _broker(stack: AsyncExitStack) -> BrokerAddress:
    url = os.environ.get("FORECOURT_MQTT_URL")
    if url:
        return BrokerAddress.from_url(url)
    broker = LocalBroker(Path(tempfile.mkdtemp(prefix="forecourt-bench-mqtt-")))
    address = await broker.start()
    stack.push_async_callback(broker.stop)
    return address


async def _copy_ceiling(db: str) -> float:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    async with await psycopg.AsyncConnection.connect(db, autocommit=True) as conn:
        await conn.execute("INSERT INTO telemetry.metrics (grp, station, device, name, datatype) "
                           "SELECT 'b', 'ceiling', 'd', 'm' || i, 'DOUBLE' FROM generate_series(1, %s) i", (METRICS,))
        ids = [r[0] for r in await (await conn.execute(
            "SELECT metric_id FROM telemetry.metrics WHERE station = 'ceiling'")).fetchall()]
        began = time.perf_counter()
        copy_sql = "COPY telemetry.points (metric_id, ts, value, quality, historical) FROM STDIN"
        async with conn.transaction(), conn.cursor() as cur, cur.copy(copy_sql) as cp:
            for m in range(MESSAGES):
                ts = start + timedelta(milliseconds=m)
                for metric_id in ids:
                    await cp.write_row((metric_id, ts, float(m), "good", False))
        return MESSAGES * METRICS / (time.perf_counter() - began)


async def _end_to_end(db: str, broker: BrokerAddress) -> float:
    group, node = f"bench{uuid.uuid4().hex[:6]}", "st-bench"
    worker = IngestWorker(db, broker, group=group, client_id=f"bench-{group}", batch_max=5000)
    task = asyncio.create_task(worker.run())
    await asyncio.wait_for(worker.subscribed.wait(), 10)
    t0 = 1_767_225_600_000
    async with aiomqtt.Client(**broker.client_kwargs(), max_inflight_messages=1000) as pub:
        birth = Payload(t0, 0, (Metric("bdSeq", 0, t0, DataType.INT64, 0),))
        await pub.publish(topics.node_topic(group, MessageType.NBIRTH, node), sparkplug.encode(birth), qos=1)
        dbirth = Payload(t0, 1, tuple(Metric(f"m{i}", i + 1, t0, DataType.DOUBLE, 0.0) for i in range(METRICS)))
        await pub.publish(topics.device_topic(group, MessageType.DBIRTH, node, "d"), sparkplug.encode(dbirth), qos=1)
        data_topic = topics.device_topic(group, MessageType.DDATA, node, "d")
        bodies = [sparkplug.encode(Payload(t0, (m + 2) % 256, tuple(
            Metric(None, i + 1, t0 + 10 + m, DataType.DOUBLE, float(m)) for i in range(METRICS))))
            for m in range(MESSAGES)]
        began = time.perf_counter()
        for i in range(0, len(bodies), 100):
            await asyncio.gather(*(pub.publish(data_topic, body, qos=1) for body in bodies[i:i + 100]))
    expected = (MESSAGES + 1) * METRICS
    async with await psycopg.AsyncConnection.connect(db, autocommit=True) as conn:
        while True:
            if time.perf_counter() - began > 180:
                raise RuntimeError(f"ingest did not commit {expected} points within 180 s")
            n = (await (await conn.execute(
                "SELECT count(*) FROM telemetry.points p JOIN telemetry.metrics m USING (metric_id) "
                "WHERE m.station = %s", (node,))).fetchone())[0]  # type: ignore[index]
            if n >= expected:
                break
            await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - began
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return MESSAGES * METRICS / elapsed


async def _latency(db: str, broker: BrokerAddress) -> list[float]:
    from edge_nodes.runtime import EdgeNode
    from simulators.clock import SimClock
    from simulators.dispenser.config import DispenserConfig
    from simulators.dispenser.model import DispenserModel
    from simulators.dispenser.server import DispenserServer
    from simulators.dispenser.states import PresetType
    from tests.support.station import station_for

    group = f"lat{uuid.uuid4().hex[:6]}"
    clock = SimClock()
    async with DispenserServer(DispenserModel(DispenserConfig(), start=clock.now()), clock, port=0) as pump:
        node = EdgeNode(station_for(pump, code="st-lat", poll_s=0.1), broker, group=group)
        worker = IngestWorker(db, broker, group=group, client_id=f"lat-{group}", batch_wait_s=0.01)
        tasks = [asyncio.create_task(worker.run()), asyncio.create_task(node.run())]
        await asyncio.wait_for(node.connected.wait(), 10)
        pump.model.lift_nozzle(1, 1)
        pump.model.authorise(1, PresetType.NONE, 0, 1)
        samples: list[float] = []
        seen: set[object] = set()
        async with await psycopg.AsyncConnection.connect(db, autocommit=True) as conn:
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                for ts, received in await (await conn.execute(
                        """SELECT l.ts, l.received_at FROM telemetry.latest l JOIN telemetry.metrics m USING (metric_id)
                           WHERE m.station = 'st-lat' AND m.name = 'fp1/volume'""")).fetchall():
                    if ts not in seen:
                        seen.add(ts)
                        samples.append((received - ts).total_seconds() * 1000)
                await asyncio.sleep(0.02)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return samples


async def run() -> list[Figure]:
    async with AsyncExitStack() as stack:
        db = await _database(stack)
        broker = await _broker(stack)
        ceiling = await _copy_ceiling(db)
        e2e = await _end_to_end(db, broker)
        latency = sorted(await _latency(db, broker))
    p50 = statistics.median(latency)
    p99 = latency[min(len(latency) - 1, int(len(latency) * 0.99))]
    note = f"{MESSAGES} DDATA × {METRICS} metrics, one worker, {'MQTT v5' if broker.mqtt5 else 'MQTT 3.1.1'}"
    return [
        Figure("ingest MQTT → committed rows", e2e, "points/s", ceiling, "bare COPY from Python (ceiling)", note),
        Figure("latency source → committed row p50", p50, "ms", note=f"{len(latency)} samples, 0.1 s polling"),
        Figure("latency source → committed row p99", p99, "ms", note=f"{len(latency)} samples, 0.1 s polling"),
    ]
