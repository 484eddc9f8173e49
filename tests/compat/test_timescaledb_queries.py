"""The same queries answer the same on TimescaleDB (PGlite + TimescaleDB 2.23) as on plain PostgreSQL.

The same three days of points go into both through ``TelemetryWriter`` (COPY); the rollups are refreshed the way each
side does it (``refresh_continuous_aggregate`` / ``telemetry.storage.rollups.refresh``); then every function of
``telemetry/queries.py`` is asked the same questions on both, before and after the chunks are compressed, and after a
replay and a late store-and-forwarded point land in a compressed chunk.
"""

from __future__ import annotations

import math
from dataclasses import fields, is_dataclass
from datetime import UTC, datetime, timedelta
from typing import cast

import psycopg
import pytest

from telemetry import queries
from telemetry.records import MetricDef, PointRow, SourceStatus
from telemetry.storage import rollups
from telemetry.storage.repository import TelemetryWriter

pytestmark = pytest.mark.integration

STATION = "cmp-01"
# three whole days, three weeks back: old enough to compress, far from the days the policy test writes
T0 = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=21)
DEFS = [MetricDef("g", STATION, "tank-1", "tank1/volume", "DOUBLE", "L"),
        MetricDef("g", STATION, "tank-1", "tank1/temperature", "FLOAT", "°C"),
        MetricDef("g", STATION, "tank-1", "tank1/leak", "BOOLEAN", None),
        MetricDef("g", STATION, "tank-1", "tank1/product", "STRING", None),
        MetricDef("g", STATION, "disp-01", "fp1/volume", "DOUBLE", "L"),
        MetricDef("g", STATION, "disp-01", "fp1/amount", "INT64", "fen")]
STATUSES = [SourceStatus("g", STATION, "", True, False, None), SourceStatus("g", STATION, "tank-1", True, False, None),
            SourceStatus("g", STATION, "disp-01", False, True, "comm-loss")]


def _point(device: str, name: str, ts: datetime, value: float | None, text: str | None = None, quality: str = "good",
           reason: str | None = None, historical: bool = False) -> PointRow:
    return PointRow(STATION, device, name, ts, value, text, quality, reason, historical)


def dataset() -> list[PointRow]:
    """Irregular intervals (so buckets hold different counts), bad values, text, booleans and history."""
    rows: list[PointRow] = []
    for i in range(3 * 24 * 8):                                            # every 7.5 min
        ts = T0 + timedelta(seconds=450 * i)
        rows.append(_point("tank-1", "tank1/volume", ts, round(18000 - 2.5 * i + 40 * math.sin(i / 9), 2)))
    for i in range(3 * 24 * 6):                                            # every 10 min, a fault every 17th
        ts = T0 + timedelta(minutes=10 * i, seconds=3)
        faulty = i % 17 == 16
        rows.append(_point("tank-1", "tank1/temperature", ts, None if faulty else round(15 + math.cos(i / 20), 3),
                           quality="bad" if faulty else "good", reason="sensor-fault" if faulty else None))
    rows += [_point("tank-1", "tank1/leak", T0 + timedelta(hours=h, seconds=1), float(h % 11 == 5)) for h in range(72)]
    rows += [_point("tank-1", "tank1/product", T0 + timedelta(hours=h, seconds=2), None, "92#")
             for h in range(0, 72, 6)]
    for i in range(3 * 24 * 3600 // 197):                                  # every 3 min 17 s
        ts = T0 + timedelta(seconds=197 * i + 11)
        rows.append(_point("disp-01", "fp1/volume", ts, round((i % 40) * 1.37, 2)))
        rows.append(_point("disp-01", "fp1/amount", ts, float((i % 40) * 1062)))
    rows += [_point("disp-01", "fp1/volume", T0 + timedelta(hours=30, seconds=s), 99.5, historical=True)
             for s in (5, 65, 125)]                                        # store-and-forwarded
    return rows


async def write(url: str, rows: list[PointRow], writer: TelemetryWriter, batch: int = 400) -> int:
    """Like an ingest worker: one transaction per batch; returns how many rows were new."""
    new = 0
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        async with conn.transaction():
            await writer.metric_ids(conn, DEFS)
            await writer.set_status(conn, STATUSES)
        for at in range(0, len(rows), batch):
            async with conn.transaction():
                new += await writer.write_points(conn, rows[at:at + batch])
    return new


async def refresh(url: str, since: datetime, timescale: bool) -> None:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        assert await rollups.is_timescale(conn) is timescale
        if timescale:  # what the refresh policies do, over the whole window at once
            for view in ("telemetry.points_1m", "telemetry.points_1h"):
                await conn.execute("CALL refresh_continuous_aggregate(%s, %s, NULL)",
                                   (view, since.replace(hour=0, minute=0, second=0)))
        else:
            await rollups.refresh(conn, since)


QUESTIONS: list[tuple[str, str, datetime, datetime, queries.Resolution | None]] = [
    ("tank-1", "tank1/volume", T0 + timedelta(hours=1, minutes=3), T0 + timedelta(hours=5), "raw"),
    ("tank-1", "tank1/temperature", T0, T0 + timedelta(days=2), "1m"),
    ("tank-1", "tank1/leak", T0, T0 + timedelta(days=3), "1h"),
    ("tank-1", "tank1/product", T0, T0 + timedelta(days=3), "1h"),
    ("disp-01", "fp1/volume", T0 + timedelta(hours=29), T0 + timedelta(hours=31), None),
    ("disp-01", "fp1/amount", T0 - timedelta(days=5), T0 + timedelta(days=4), None),
]
RESOLUTIONS: tuple[queries.Resolution, ...] = ("raw", "1m", "1h")
CHARTS = [(T0, T0 + timedelta(days=3), 500),                                 # 1 min rollups
          (T0 - timedelta(days=5), T0 + timedelta(days=4), 30),              # hourly rollups
          (T0 + timedelta(minutes=7, seconds=3), T0 + timedelta(hours=2), 50),  # raw, unaligned start
          (T0, T0 + timedelta(days=3), 5000)]                                # finer than a minute: raw


async def answers(url: str) -> dict[str, object]:
    """Every query function, asked the same questions."""
    out: dict[str, object] = {}
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        out["station_latest"] = await queries.station_latest(conn, STATION)
        for device in ("tank-1", "disp-01", "no-such-device"):
            out[f"device_latest {device}"] = await queries.device_latest(conn, STATION, device)
        for device, metric, start, end, resolution in QUESTIONS:
            out[f"history {metric} {resolution}"] = await queries.history(conn, STATION, device, metric, start, end,
                                                                          resolution)
            for res in RESOLUTIONS:
                out[f"history {metric} at {res}"] = await queries.history(conn, STATION, device, metric, start, end,
                                                                          res)
        for device, metric, *_ in QUESTIONS:
            for start, end, n in CHARTS:
                out[f"downsampled {metric} {start:%d %H:%M:%S} {n}"] = await queries.downsampled(
                    conn, STATION, device, metric, start, end, n)
    return out


def assert_same(got: object, want: object, where: str) -> None:
    """Equal, with floats equal to 1e-9 relative (sums of the same numbers may be added in another order)."""
    if isinstance(want, float) and isinstance(got, float):
        assert math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-9), f"{where}: {got!r} != {want!r}"
    elif is_dataclass(want) and not isinstance(want, type):
        assert type(got) is type(want), f"{where}: {got!r} != {want!r}"
        for f in fields(want):
            assert_same(getattr(got, f.name), getattr(want, f.name), f"{where}.{f.name}")
    elif isinstance(want, list | tuple):
        assert isinstance(got, type(want)) and len(got) == len(want), f"{where}: {got!r} != {want!r}"
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            assert_same(g, w, f"{where}[{i}]")
    elif isinstance(want, dict):
        assert isinstance(got, dict) and got.keys() == want.keys(), where
        for key in want:
            assert_same(got[key], want[key], f"{where}[{key!r}]")
    else:
        assert type(got) is type(want) and got == want, f"{where}: {got!r} != {want!r}"


def series(found: dict[str, object], key: str) -> list[queries.SeriesPoint]:
    """The points of a ``history`` or ``downsampled`` answer."""
    answer = found[key]
    points = answer[1] if isinstance(answer, tuple) else answer
    assert isinstance(points, list) and all(isinstance(p, queries.SeriesPoint) for p in points), key
    return cast(list[queries.SeriesPoint], points)


def check_against_the_data(found: dict[str, object], rows: list[PointRow]) -> None:
    """A few answers worked out from the rows themselves, so that two equally wrong sides cannot pass."""
    volume = sorted(r.ts for r in rows if r.name == "tank1/volume")
    start, end = QUESTIONS[0][2:4]
    assert [p.ts for p in series(found, "history tank1/volume raw")] == [t for t in volume if start <= t < end]
    hourly = series(found, "history tank1/leak 1h")
    assert len(hourly) == 72 and sum(p.samples for p in hourly) == 72 and hourly[5].max == 1.0
    fault = series(found, "history tank1/temperature 1m")[16]
    assert (fault.value, fault.last, fault.samples) == (None, None, 1)
    assert found["history fp1/amount None"] == ("1h", series(found, "history fp1/amount at 1h"))  # 9 days: hourly
    chart = series(found, f"downsampled tank1/volume {T0 - timedelta(days=5):%d %H:%M:%S} 30")
    assert sum(p.samples for p in chart) == len(volume)
    tank = found["device_latest tank-1"]
    assert isinstance(tank, queries.DeviceLatest) and tank.online is True
    assert {v.name: v.value for v in tank.values} == {"tank1/leak": True, "tank1/product": "92#",
                                                       "tank1/temperature": round(15 + math.cos(431 / 20), 3),
                                                       "tank1/volume": rows[575].value}
    disp = found["device_latest disp-01"]
    assert isinstance(disp, queries.DeviceLatest) and (disp.online, disp.stale, disp.status_reason) == (
        False, True, "comm-loss")
    assert found["device_latest no-such-device"] is None


async def _compress_all(url: str) -> int:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute("SELECT compress_chunk(c, if_not_compressed => true) FROM show_chunks('telemetry.points', "
                           "newer_than => %s::timestamptz, older_than => %s::timestamptz) c",
                           (T0 - timedelta(days=1), T0 + timedelta(days=4)))
        cur = await conn.execute("SELECT count(*) FILTER (WHERE is_compressed), count(*) "
                                 "FROM timescaledb_information.chunks WHERE hypertable_name = 'points' "
                                 "AND range_end > %s AND range_start < %s", (T0, T0 + timedelta(days=3)))
        row = await cur.fetchone()
    assert row is not None and row[0] == row[1]
    return int(row[0])


async def test_the_queries_answer_the_same_on_timescaledb_and_plain_postgresql(timescale_url: str,
                                                                                database_url: str) -> None:
    rows = dataset()
    assert await write(timescale_url, rows, TelemetryWriter()) == len(rows)
    assert await write(database_url, rows, TelemetryWriter()) == len(rows)
    await refresh(timescale_url, T0, timescale=True)
    await refresh(database_url, T0, timescale=False)
    plain = await answers(database_url)
    check_against_the_data(plain, rows)
    assert_same(await answers(timescale_url), plain, "timescaledb")

    assert await _compress_all(timescale_url) == 3  # one chunk a day
    assert_same(await answers(timescale_url), plain, "timescaledb, compressed")

    # a replay changes nothing; a late store-and-forwarded point lands in a compressed chunk and its buckets
    late = [_point("disp-01", "fp1/volume", T0 + timedelta(hours=30, seconds=185), 250.0, historical=True)]
    for url, timescale in ((timescale_url, True), (database_url, False)):
        writer = TelemetryWriter()
        assert await write(url, rows[:1000] + late, writer) == 1
        await refresh(url, rollups.window_for(late[0].ts), timescale)
    plain = await answers(database_url)
    hour_29 = max(r.value or 0 for r in rows
                  if r.name == "fp1/volume" and T0 + timedelta(hours=29) <= r.ts < T0 + timedelta(hours=30))
    assert [p.max for p in series(plain, "history fp1/volume at 1h")] == [hour_29, 250.0]
    assert_same(await answers(timescale_url), plain, "timescaledb, after a late point")


async def test_plain_rollups_bucket_in_utc_like_time_bucket_whatever_the_session_time_zone(database_url: str) -> None:
    ts = T0 + timedelta(hours=10, minutes=40)
    await write(database_url, [_point("tank-1", "tank1/volume", ts, 5.0)], TelemetryWriter())
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True,
                                                     options="-c TimeZone=Asia/Kolkata") as conn:
        await rollups.refresh(conn, T0)
        _, hourly = await queries.history(conn, STATION, "tank-1", "tank1/volume", T0, T0 + timedelta(days=1), "1h")
    assert [p.ts for p in hourly] == [T0 + timedelta(hours=10)]  # what time_bucket('1 hour', ts) gives
