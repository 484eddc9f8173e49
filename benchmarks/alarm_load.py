"""Alarm evaluation throughput: points per second through the rules, measured by ``bench_ingest`` in the same run
as ingest's figures (issue 17).

``STATIONS`` stations of ``POINTS`` tank heights each are written into ``telemetry.metrics`` / ``telemetry.latest``
as ingest would leave them; four rules watch every point (low with deadband and on-delay, high, rate of change
suppressed during a delivery, bad quality). One ``AlarmEngine`` pass reads each station's latest values and
evaluates every (rule, point); before each pass every point gets a new sample, and in the second series 1 % of
them cross the low limit (or come back), so
each pass also writes transitions (locked row, journal, outbox). Figures: points evaluated per second (each point
through all its rules) when nothing crosses a limit, and when 1 % of the points cross one each pass.
"""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path

import psycopg

from telemetry.alarms.engine import AlarmEngine

STATIONS, POINTS, PASSES = 20, 500, 5
RULES = """
rules:
  - {code: b.low, kind: low, device: "atg-*", metric: "tank*/height", limit: 500, deadband: 20, on_delay_s: 0,
     priority: medium, during: [delivery]}
  - {code: b.high, kind: high, device: "atg-*", metric: "tank*/height", limit: 2400, priority: high}
  - {code: b.rate, kind: rate, device: "atg-*", metric: "tank*/height", limit: -50, window_s: 60, priority: high,
     during: [delivery]}
  - {code: b.probe, kind: bad_quality, device: "atg-*", metric: "tank*/height", priority: high}
"""


async def _seed(conn: psycopg.AsyncConnection) -> list[int]:
    ids: list[int] = []
    for s in range(STATIONS):
        for p in range(POINTS):
            row = await (await conn.execute(
                "INSERT INTO telemetry.metrics (grp, station, device, name, datatype, unit) "
                "VALUES ('bench', %s, %s, %s, 'Double', 'mm') RETURNING metric_id",
                (f"bench-{s:02d}", f"atg-{p // 10:02d}", f"tank{p % 10 + 1}/height"))).fetchone()
            assert row is not None
            ids.append(int(row[0]))
    await conn.execute("INSERT INTO telemetry.latest (metric_id, ts, value, quality) "
                       "SELECT unnest(%s::int[]), now(), 1500, 'good'", (ids,))
    return ids


async def _move(conn: psycopg.AsyncConnection, ids: list[int], rng: random.Random, share: float, low: bool) -> None:
    """Every point gets a new sample; ``share`` of them across the low limit (``low``) or back."""
    await conn.execute("UPDATE telemetry.latest SET value = 1500 + random(), ts = now()")
    chosen = rng.sample(ids, int(len(ids) * share))
    await conn.execute("UPDATE telemetry.latest SET value = %s WHERE metric_id = ANY(%s)",
                       (400.0 if low else 1500.0, chosen))


async def _passes(engine: AlarmEngine, conn: psycopg.AsyncConnection, ids: list[int], rng: random.Random,
                  share: float) -> tuple[float, int]:
    elapsed, transitions = 0.0, 0
    for n in range(PASSES):
        await _move(conn, ids, rng, share, low=n % 2 == 0)
        started = time.perf_counter()
        transitions += await engine.evaluate(conn)
        elapsed += time.perf_counter() - started
    return STATIONS * POINTS * PASSES / elapsed, transitions


async def alarm_throughput(database_url: str) -> list[tuple[str, float, int]]:
    """(what, points/s through the rules, transitions written) for passes where no point crosses a limit, and
    for passes where 1 % of the points cross one (each crossing a locked, journalled, outboxed transition)."""
    rules = Path(tempfile.mkdtemp(prefix="forecourt-bench-alarms-")) / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    engine = AlarmEngine(database_url, group="bench", rules_file=rules)
    rng = random.Random(17)
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        ids = await _seed(conn)
        await engine.load_rules(conn)
        await engine.evaluate(conn)                      # warm: every condition row created
        steady = await _passes(engine, conn, ids, rng, 0.0)
        churn = await _passes(engine, conn, ids, rng, 0.01)
    return [("no limit crossed", *steady), ("1 % of points cross a limit each pass", *churn)]
