"""Read side used by the control API and Grafana: latest values, history at a resolution chosen from the
range (raw, 1 min, 1 h), and downsampled series of at most N points for charts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import psycopg


@dataclass(frozen=True, slots=True)
class LatestValue:
    name: str
    value: float | str | None
    unit: str | None
    quality: str
    reason: str | None
    ts: datetime


@dataclass(frozen=True, slots=True)
class DeviceLatest:
    station: str
    device: str
    online: bool | None
    stale: bool | None
    status_reason: str | None
    values: tuple[LatestValue, ...]


def _typed(value: float | None, text: str | None, datatype: str) -> float | int | bool | str | None:
    if text is not None:
        return text
    if value is None:
        return None
    if datatype == "BOOLEAN":
        return value != 0
    if datatype.startswith(("INT", "UINT")):
        return int(value)
    return value


async def device_latest(conn: psycopg.AsyncConnection, station: str, device: str) -> DeviceLatest | None:
    """Latest value of every metric of one device, or None when the device has never reported."""
    cur = await conn.execute(
        """SELECT m.name, m.datatype, m.unit, l.value, l.value_text, l.quality, l.reason, l.ts
           FROM telemetry.metrics m JOIN telemetry.latest l USING (metric_id)
           WHERE m.station = %s AND m.device = %s ORDER BY m.name""", (station, device))
    rows = await cur.fetchall()
    status = await (await conn.execute(
        "SELECT online, stale, reason FROM telemetry.sources WHERE station = %s AND device = %s",
        (station, device))).fetchone()
    if not rows and status is None:
        return None
    values = tuple(LatestValue(name, _typed(value, text, datatype), unit, quality, reason, ts)
                   for name, datatype, unit, value, text, quality, reason, ts in rows)
    online, stale, reason = status if status is not None else (None, None, None)
    return DeviceLatest(station, device, online, stale, reason, values)


Resolution = Literal["raw", "1m", "1h"]
_SOURCES = {"raw": "telemetry.points", "1m": "telemetry.points_1m", "1h": "telemetry.points_1h"}


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    ts: datetime
    value: float | None      # the raw value, or the bucket's average
    min: float | None
    max: float | None
    last: float | None
    samples: int


def resolution_for(start: datetime, end: datetime) -> Resolution:
    """Raw up to 6 hours, 1-minute rollups up to 7 days, hourly beyond."""
    span = end - start
    if span <= timedelta(hours=6):
        return "raw"
    if span <= timedelta(days=7):
        return "1m"
    return "1h"


async def history(conn: psycopg.AsyncConnection, station: str, device: str, metric: str, start: datetime,
                  end: datetime, resolution: Resolution | None = None) -> tuple[Resolution, list[SeriesPoint]]:
    """One metric over [start, end) at the given resolution (or the one the range calls for)."""
    res = resolution or resolution_for(start, end)
    if res == "raw":
        sql = """SELECT p.ts, p.value, p.value, p.value, p.value, 1 FROM telemetry.points p
                 JOIN telemetry.metrics m USING (metric_id)
                 WHERE m.station = %s AND m.device = %s AND m.name = %s AND p.ts >= %s AND p.ts < %s
                 ORDER BY p.ts"""
    else:
        sql = f"""SELECT r.bucket, r.avg_value, r.min_value, r.max_value, r.last_value, r.samples
                  FROM {_SOURCES[res]} r JOIN telemetry.metrics m USING (metric_id)
                  WHERE m.station = %s AND m.device = %s AND m.name = %s AND r.bucket >= %s AND r.bucket < %s
                  ORDER BY r.bucket"""  # noqa: S608 - the table name comes from a fixed map
    rows = await (await conn.execute(sql, (station, device, metric, start, end))).fetchall()
    return res, [SeriesPoint(*row) for row in rows]


async def downsampled(conn: psycopg.AsyncConnection, station: str, device: str, metric: str, start: datetime,
                      end: datetime, max_points: int = 500) -> list[SeriesPoint]:
    """At most ``max_points`` evenly spaced buckets for a chart, from the cheapest source that is fine enough."""
    if max_points < 1 or end <= start:
        raise ValueError("need max_points >= 1 and end after start")
    width = max((end - start) / max_points, timedelta(seconds=1))
    res = resolution_for(start, end)
    if res == "1h" and width < timedelta(hours=1):
        res = "1m"
    if res == "1m" and width < timedelta(minutes=1):
        res = "raw"
    source, ts, avg, lo, hi, last, n = (
        ("telemetry.points", "p.ts", "p.value", "p.value", "p.value", "p.value", "1") if res == "raw" else
        (_SOURCES[res], "p.bucket", "p.avg_value", "p.min_value", "p.max_value", "p.last_value", "p.samples"))
    sql = f"""SELECT date_bin(%s, {ts}, %s) AS b, sum({avg} * {n}) / nullif(sum({n}), 0), min({lo}), max({hi}),
                     (array_agg({last} ORDER BY {ts} DESC))[1], sum({n})::bigint
              FROM {source} p JOIN telemetry.metrics m USING (metric_id)
              WHERE m.station = %s AND m.device = %s AND m.name = %s AND {ts} >= %s AND {ts} < %s
              GROUP BY b ORDER BY b"""  # noqa: S608 - identifiers from fixed maps, values bound
    rows = await (await conn.execute(sql, (width, start, station, device, metric, start, end))).fetchall()
    return [SeriesPoint(*row) for row in rows]


async def station_latest(conn: psycopg.AsyncConnection, station: str) -> list[DeviceLatest]:
    """Latest values of every device of a station."""
    cur = await conn.execute("SELECT DISTINCT device FROM telemetry.metrics WHERE station = %s AND device <> '' "
                             "ORDER BY device", (station,))
    out = []
    for (device,) in await cur.fetchall():
        found = await device_latest(conn, station, device)
        if found is not None:
            out.append(found)
    return out
