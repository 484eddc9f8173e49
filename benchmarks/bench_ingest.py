"""Ingest throughput and latency, next to the machine's ceilings measured in the same run.

``REPEATS`` rounds, each taken back to back so that its figures share the machine's load of the moment
(this machine is shared; a ratio within a round is the honest comparison):

- ceilings: a bare ``COPY`` from Python into ``telemetry.points``, and the real write path's SQL alone
  (``TelemetryWriter.write_points``: binary COPY into staging, the deduplicating insert, the latest
  values) with rows already decoded;
- end to end: Sparkplug DDATA (50 metrics each) waiting in the workers' persistent MQTT sessions
  (``ingest_load.py``: a Python publisher is slower than a worker), drained, decoded and committed by
  one ``IngestWorker``, then by two on the MQTT v5 shared subscription: points per second from the
  workers' connect to the return of the commit that completes the backlog (then every point is
  counted in the table: none lost, none doubled). The workers run with the production batch settings
  and a rollup refresh every ``ROLLUP_EVERY_S``, so refreshes run during the measurement (their count
  is in the note);
- latency: a dispenser simulator polled every 0.1 s by an edge node while it dispenses, ingested with
  the production batch wait; for every point, the time its batch's commit returned minus its source time.

Uses ``FORECOURT_DATABASE_URL`` / ``FORECOURT_MQTT_URL`` when set, else starts the embedded ones.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from benchmarks import alarm_load, ingest_load
from benchmarks.alarm_load import alarm_throughput
from benchmarks.figures import Figure
from forecourt.local import EmbeddedPostgres, LocalBroker
from forecourt.migrations import migrate
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.topics import MessageType
from telemetry.ingest.decoder import Decoded
from telemetry.ingest.store import DeadLetter
from telemetry.ingest.worker import IngestWorker
from telemetry.records import MetricDef, PointRow

MESSAGES, METRICS = 4000, 50          # 200 000 points per end-to-end run
CEILING_MESSAGES = 2000               # 100 000 points per ceiling measurement
REPEATS = 3
ROLLUP_EVERY_S = 1.0


async def _database(stack: AsyncExitStack) -> str:
    url = os.environ.get("FORECOURT_DATABASE_URL")
    if url is None:
        pg = EmbeddedPostgres(Path(tempfile.mkdtemp(prefix="forecourt-bench-pg-")))
        url = await asyncio.to_thread(pg.start)
        stack.callback(pg.stop)
    name = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    stack.callback(_drop, url, name)
    db = url.rsplit("/", 1)[0] + f"/{name}"
    await asyncio.to_thread(migrate, db)
    return db


def _drop(url: str, name: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


async def _broker(stack: AsyncExitStack) -> BrokerAddress:
    url = os.environ.get("FORECOURT_MQTT_URL")
    if url:
        return BrokerAddress.from_url(url)
    broker = LocalBroker(Path(tempfile.mkdtemp(prefix="forecourt-bench-mqtt-")))
    address = await broker.start()
    stack.push_async_callback(broker.stop)
    return address


async def _bare_copy(conn: psycopg.AsyncConnection, ids: list[int], start: datetime) -> float:
    began = time.perf_counter()
    copy_sql = "COPY telemetry.points (metric_id, ts, value, quality, historical) FROM STDIN"
    async with conn.transaction(), conn.cursor() as cur, cur.copy(copy_sql) as cp:
        for m in range(CEILING_MESSAGES):
            ts = start + timedelta(milliseconds=m)
            for metric_id in ids:
                await cp.write_row((metric_id, ts, float(m), "good", False))
    return CEILING_MESSAGES * METRICS / (time.perf_counter() - began)


async def _write_path(conn: psycopg.AsyncConnection, start: datetime) -> float:
    from telemetry.storage.repository import TelemetryWriter

    writer = TelemetryWriter()
    async with conn.transaction():
        await writer.metric_ids(conn, [MetricDef("b", "ceiling-sql", "d", f"m{i}", "DOUBLE", None)
                                       for i in range(METRICS)])
    rows = [PointRow("ceiling-sql", "d", f"m{i}", start + timedelta(milliseconds=m), float(m), None, "good", None,
                     False) for m in range(CEILING_MESSAGES) for i in range(METRICS)]
    began = time.perf_counter()
    async with conn.transaction():
        await writer.write_points(conn, rows)
    return len(rows) / (time.perf_counter() - began)


async def _ceiling_ids(db: str) -> list[int]:
    async with await psycopg.AsyncConnection.connect(db, autocommit=True) as conn:
        await conn.execute("INSERT INTO telemetry.metrics (grp, station, device, name, datatype) "
                           "SELECT 'b', 'ceiling', 'd', 'm' || i, 'DOUBLE' FROM generate_series(1, %s) i", (METRICS,))
        return [r[0] for r in await (await conn.execute(
            "SELECT metric_id FROM telemetry.metrics WHERE station = 'ceiling'")).fetchall()]


async def _ceilings(db: str, ids: list[int], day: int) -> tuple[float, float]:
    """Bare COPY and the write path's SQL, on fresh timestamps (in 2025: before the end-to-end runs' points)."""
    start = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(days=day)
    async with await psycopg.AsyncConnection.connect(db, autocommit=True) as conn:
        return await _bare_copy(conn, ids, start), await _write_path(conn, start)


async def _end_to_end(db: str, broker: BrokerAddress, workers: int, day: int) -> tuple[float, int]:
    """Points/s from the workers' (re)connect to the return of the commit that completes a backlog waiting in
    their MQTT sessions (then checked in the table); and the rollup refreshes meanwhile."""
    group = f"bench{uuid.uuid4().hex[:6]}"
    node = f"st-{workers}w-{group}"
    share = "bench" if workers > 1 else None

    def crew() -> list[IngestWorker]:
        return [IngestWorker(db, broker, group=group, share_group=share, client_id=f"bench-{group}-{i}",
                             rollup_every_s=ROLLUP_EVERY_S) for i in range(workers)]

    async def start(ws: list[IngestWorker]) -> list[asyncio.Task[None]]:
        tasks = [asyncio.create_task(w.run()) for w in ws]
        await asyncio.wait_for(asyncio.gather(*(w.subscribed.wait() for w in ws)), 10)
        return tasks

    async def stop(tasks: list[asyncio.Task[None]]) -> None:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    await stop(await start(crew()))                  # the persistent sessions and subscriptions now exist
    # each run on a day of its own, so that its rollup refreshes cover its own points, as in production
    await ingest_load.publish(broker, group, node, MESSAGES, METRICS, day=day)
    draining, committed, done = crew(), 0, asyncio.Event()

    def on_commit(data_messages: int) -> None:
        nonlocal committed
        committed += data_messages
        if committed >= MESSAGES:
            done.set()

    for worker in draining:
        _count_commits(worker, on_commit)
    began = time.perf_counter()
    tasks = await start(draining)
    try:
        await asyncio.wait_for(done.wait(), 300)
    except TimeoutError:
        raise RuntimeError(f"ingest did not commit {MESSAGES} DDATA within 300 s") from None
    elapsed = time.perf_counter() - began
    refreshes = sum(w.rollups.refreshes for w in draining)
    await stop(tasks)
    expected = (MESSAGES + 1) * METRICS             # the DBIRTH's values are points too
    async with await psycopg.AsyncConnection.connect(db, autocommit=True) as conn:
        stored = (await (await conn.execute(
            "SELECT count(*) FROM telemetry.points p JOIN telemetry.metrics m USING (metric_id) "
            "WHERE m.station = %s", (node,))).fetchone())[0]  # type: ignore[index]
    if stored != expected:
        raise RuntimeError(f"{stored} points stored, {expected} expected: lost or doubled")
    return MESSAGES * METRICS / elapsed, refreshes


def _count_commits(worker: IngestWorker, on_commit: Callable[[int], None]) -> None:
    """Tell ``on_commit`` how many DDATA each of the worker's batches held, when its commit has returned."""
    commit = worker.store.commit

    async def counted(decoded: list[Decoded], dead: list[DeadLetter]) -> None:
        data = sum(d.topic.message_type is MessageType.DDATA for d in decoded)
        await commit(decoded, dead)
        on_commit(data)

    worker.store.commit = counted  # type: ignore[method-assign]


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
    samples: list[float] = []
    async with DispenserServer(DispenserModel(DispenserConfig(), start=clock.now()), clock, port=0) as pump:
        node = EdgeNode(station_for(pump, code="st-lat", poll_s=0.1), broker, group=group)
        worker = IngestWorker(db, broker, group=group, client_id=f"lat-{group}")   # production batch wait
        commit = worker.store.commit

        async def timed_commit(decoded: list[Decoded], dead: list[DeadLetter]) -> None:
            sources = [r.ts for d in decoded for r in d.rows if not r.historical]
            await commit(decoded, dead)
            committed = datetime.now(UTC)             # after the commit returned
            samples.extend((committed - ts).total_seconds() * 1000 for ts in sources)

        worker.store.commit = timed_commit  # type: ignore[method-assign]
        tasks = [asyncio.create_task(worker.run()), asyncio.create_task(node.run())]
        await asyncio.wait_for(node.connected.wait(), 10)
        pump.model.lift_nozzle(1, 1)
        pump.model.authorise(1, PresetType.NONE, 0, 1)
        await asyncio.sleep(15)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return samples


def _spread(values: list[float]) -> str:
    return f"median of {len(values)}, spread {min(values):,.0f}–{max(values):,.0f}"


@dataclass
class Round:
    """One round of measurements, taken back to back so that they share the machine's load of the moment."""
    bare: float
    sql: float
    one: float
    refreshes_one: int
    two: float = 0.0
    refreshes_two: int = 0
    load: float = 0.0            # the machine's load average when the round began


async def run() -> list[Figure]:
    rounds: list[Round] = []
    async with AsyncExitStack() as stack:
        db = await _database(stack)
        broker = await _broker(stack)
        ids = await _ceiling_ids(db)
        for n in range(REPEATS):
            load = os.getloadavg()[0]
            bare, sql = await _ceilings(db, ids, n)
            one, refreshes_one = await _end_to_end(db, broker, 1, day=1 + 2 * n)
            rounds.append(Round(bare, sql, one, refreshes_one, load=load))
            if broker.mqtt5:
                rounds[-1].two, rounds[-1].refreshes_two = await _end_to_end(db, broker, 2, day=2 + 2 * n)
        latency = sorted(await _latency(db, broker))
        alarms = await alarm_throughput(db)
    return _figures(rounds, broker.mqtt5) + _latency_figures(latency) + _alarm_figures(alarms, rounds)


def _alarm_figures(alarms: list[tuple[str, float, int]], rounds: list[Round]) -> list[Figure]:
    """Alarm evaluation beside ingest (issue 17): points/s through the rules (benchmarks/alarm_load.py)."""
    ingest = statistics.median(r.one for r in rounds)
    return [Figure(f"alarm evaluation: points through the rules, {what}", value, "points/s", ingest,
                   "ingest, 1 worker (median of the rounds)",
                   f"{alarm_load.STATIONS} stations × {alarm_load.POINTS} points × 4 rules, one engine, "
                   f"{alarm_load.PASSES} passes; {transitions} transitions written")
            for what, value, transitions in alarms]


def _figures(rounds: list[Round], shared: bool) -> list[Figure]:
    bare, sql = [r.bare for r in rounds], [r.sql for r in rounds]
    ceiling, sql_ceiling = statistics.median(bare), statistics.median(sql)
    load = f"a backlog of {MESSAGES} DDATA × {METRICS} metrics, production batch settings"
    figures = [
        Figure("ceiling: bare COPY from Python", ceiling, "points/s", note=_spread(bare)),
        Figure("ceiling: the write path's SQL (staging COPY + dedup insert + latest)", sql_ceiling, "points/s",
               ceiling, "bare COPY", _spread(sql)),
    ]
    for n, r in enumerate(rounds, 1):
        figures.append(Figure(f"ingest MQTT → committed rows, 1 worker, round {n}", r.one, "points/s", r.bare,
                              "bare COPY of the same round",
                              f"{load}; {r.one / r.sql:.2f} of the write path's SQL of the round ({r.sql:,.0f}/s); "
                              f"{r.refreshes_one} rollup refreshes during the run (every {ROLLUP_EVERY_S:g} s); "
                              f"machine load average {r.load:.1f} when the round began"))
    one = statistics.median(r.one for r in rounds)
    ratios = [r.one / r.bare for r in rounds]
    figures.append(Figure("ingest MQTT → committed rows, 1 worker", one, "points/s", ceiling, "bare COPY (median)",
                          f"{_spread([r.one for r in rounds])}; ratio to the same round's bare COPY "
                          f"{min(ratios):.3f}–{max(ratios):.3f}; {one / sql_ceiling:.2f} of the write path's SQL"))
    if shared:
        for n, r in enumerate(rounds, 1):
            figures.append(Figure(f"ingest MQTT → committed rows, 2 workers (shared subscription), round {n}", r.two,
                                  "points/s", r.one, "1 worker of the same round",
                                  f"{r.two / r.bare:.2f} of the round's bare COPY; {r.refreshes_two} rollup refreshes"))
        two = statistics.median(r.two for r in rounds)
        figures.append(Figure("ingest MQTT → committed rows, 2 workers (shared subscription)", two, "points/s",
                              one, "1 worker (median)", f"{_spread([r.two for r in rounds])}; "
                              f"{two / ceiling:.2f} of bare COPY"))
    return figures


def _latency_figures(latency: list[float]) -> list[Figure]:
    p50 = statistics.median(latency)
    p99 = latency[min(len(latency) - 1, int(len(latency) * 0.99))]
    note = f"{len(latency)} points, 0.1 s polling, batch wait 50 ms, timed when the commit returned"
    return [Figure("latency source → committed row p50", p50, "ms", note=note),
            Figure("latency source → committed row p99", p99, "ms", note=note)]
