"""数据质量 — is the data arriving, current and good: stale devices, ingest lag, bad points, dead letters."""

# ruff: noqa: S608 - SQL text for Grafana, assembled from constant fragments; nothing here runs it with input

from __future__ import annotations

from grafana.model import Column, Dashboard, Kind, Panel, Query, Row, Variable
from grafana.sql import LATEST, ONLINE, QUALITY, SERIES, STALE

N, T, TIME, B = Kind.NUMBER, Kind.TEXT, Kind.TIME, Kind.BOOL

STATIONS = Variable("station", "站点", "SELECT DISTINCT station FROM telemetry.metrics ORDER BY 1",
                    multi=True, include_all=True)

#: ingest lag of each metric's newest value: when ingest wrote it minus when the device read it
LAG = "extract(epoch from l.received_at - l.ts)"

SOURCES = Panel(
    "stat", "数据源", "Edge nodes and devices of the chosen stations: online with current data, offline, "
    "and stale (a Sparkplug seq gap or a node death made their data old).",
    Query("""SELECT count(*) FILTER (WHERE online AND NOT stale) AS online,
                    count(*) FILTER (WHERE NOT online) AS offline,
                    count(*) FILTER (WHERE online AND stale) AS stale
             FROM telemetry.sources WHERE station IN ($station)""", "table",
          (Column("online", N, "在线"), Column("offline", N, "离线"), Column("stale", N, "过期"))),
    width=9, height=5)

DEAD_LETTER_COUNT = Panel(
    "stat", "死信", "Messages ingest could not decode in the time range, all stations (telemetry.dead_letters).",
    Query("""SELECT count(*) AS dead_letters FROM telemetry.dead_letters WHERE $__timeFilter(received_at)""",
          "table", (Column("dead_letters", N, "死信"),)), width=5, height=5,
    thresholds=((None, "green"), (1.0, "red")))

LAG_SUMMARY = Panel(
    "stat", "入库延迟", "Ingest lag of the newest values received in the time range: received_at - source "
    "time in telemetry.latest (95th percentile and maximum).",
    Query(f"""SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY {LAG}) AS p95_s, max({LAG}) AS max_s
              FROM {LATEST} WHERE m.station IN ($station) AND $__timeFilter(l.received_at)""", "table",
          (Column("p95_s", N, "P95"), Column("max_s", N, "最大"))), width=10, height=5, unit="s",
    thresholds=((None, "green"), (5.0, "orange"), (60.0, "red")))

FRESHNESS = Panel(
    "table", "设备新鲜度", "Every edge node and device: online and stale flags with their reason, when ingest "
    "last received a value from it, how long ago, and how many of its values are not good now. "
    "Offline and stale first.",
    Query(f"""SELECT s.station, s.device, s.online, s.stale, coalesce(s.reason, '') AS reason,
                     d.last_received, extract(epoch from now() - d.last_received) AS silent_s,
                     coalesce(d.bad_values, 0) AS bad_values
              FROM telemetry.sources s
              LEFT JOIN (SELECT m.station, m.device, max(l.received_at) AS last_received,
                                count(*) FILTER (WHERE l.quality <> 'good') AS bad_values
                         FROM {LATEST} GROUP BY 1, 2) d USING (station, device)
              WHERE s.station IN ($station)
              ORDER BY s.online AND NOT s.stale, silent_s DESC NULLS FIRST, 1, 2""", "table",
          (Column("station", T, "站点"), Column("device", T, "设备"), Column("online", B, "在线", mappings=ONLINE),
           Column("stale", B, "数据", mappings=STALE), Column("reason", T, "原因"),
           Column("last_received", TIME, "最后接收", "dateTimeAsIso"), Column("silent_s", N, "静默", "s"),
           Column("bad_values", N, "坏值数"))), width=24, height=9)

LAG_PER_DEVICE = Panel(
    "bargauge", "各设备入库延迟", "Largest ingest lag among each device's newest values received in the time "
    "range (seconds).",
    Query(f"""SELECT m.station || ' ' || m.device AS source, max({LAG}) AS lag_s
              FROM {LATEST} WHERE m.station IN ($station) AND $__timeFilter(l.received_at)
              GROUP BY 1 ORDER BY 2 DESC LIMIT 30""", "table",
          (Column("source", T, "设备"), Column("lag_s", N, "延迟"))), unit="s",
    thresholds=((None, "green"), (5.0, "orange"), (60.0, "red")))

POINTS_STORED = Panel(
    "timeseries", "入库点数", "Points stored per station over the time range (raw points, or the samples "
    "counted by the 1 min / 1 h rollups for long ranges).",
    Query(f"""WITH {SERIES}
              SELECT $__timeGroupAlias(s.ts, $__interval), m.station AS metric, sum(s.samples) AS points
              FROM series s JOIN telemetry.metrics m USING (metric_id)
              WHERE m.station IN ($station)
              GROUP BY 1, 2 ORDER BY 1""", "time_series",
          (Column("time", TIME), Column("metric", T), Column("points", N))))

BAD_POINTS = Panel(
    "timeseries", "坏质量点数", "Points that were not good, per reason (comm-loss, sensor-fault, bad-frame …), "
    "over the time range (raw points).",
    Query("""SELECT $__timeGroupAlias(p.ts, $__interval), coalesce(p.reason, p.quality) AS metric, count(*) AS points
             FROM telemetry.points p JOIN telemetry.metrics m USING (metric_id)
             WHERE m.station IN ($station) AND p.quality <> 'good' AND $__timeFilter(p.ts)
             GROUP BY 1, 2 ORDER BY 1""", "time_series",
          (Column("time", TIME), Column("metric", T), Column("points", N))))

DEAD_LETTERS = Panel(
    "timeseries", "死信数", "Undecodable messages per interval, all stations.",
    Query("""SELECT $__timeGroupAlias(received_at, $__interval), count(*) AS dead_letters
             FROM telemetry.dead_letters WHERE $__timeFilter(received_at)
             GROUP BY 1 ORDER BY 1""", "time_series",
          (Column("time", TIME), Column("dead_letters", N, "死信"))), width=8)

LATEST_DEAD_LETTERS = Panel(
    "table", "最近死信", "The newest undecodable messages in the time range: topic, error and size; the raw "
    "bytes stay in telemetry.dead_letters.",
    Query("""SELECT received_at, topic, error, octet_length(payload) AS bytes
             FROM telemetry.dead_letters WHERE $__timeFilter(received_at)
             ORDER BY received_at DESC LIMIT 100""", "table",
          (Column("received_at", TIME, "接收时间", "dateTimeAsIso"), Column("topic", T, "主题"),
           Column("error", T, "错误"), Column("bytes", N, "字节", "bytes"))), width=16)

BAD_NOW = Panel(
    "table", "当前坏值点位", "Metrics whose newest value is not good, with quality, reason and source time.",
    Query(f"""SELECT m.station, m.device, m.name, l.quality, coalesce(l.reason, '') AS reason, l.ts
              FROM {LATEST} WHERE m.station IN ($station) AND l.quality <> 'good'
              ORDER BY l.ts DESC LIMIT 200""", "table",
          (Column("station", T, "站点"), Column("device", T, "设备"), Column("name", T, "点位"),
           Column("quality", T, "质量", mappings=QUALITY), Column("reason", T, "原因"),
           Column("ts", TIME, "时间", "dateTimeAsIso"))), width=24)

DASHBOARD = Dashboard(
    "forecourt-quality", "数据质量",
    "Data quality: which devices are offline or stale, ingest lag, points stored, bad-quality points and "
    "dead letters, for the stations chosen above.",
    (Row("数据源", (SOURCES, DEAD_LETTER_COUNT, LAG_SUMMARY, FRESHNESS)),
     Row("入库", (LAG_PER_DEVICE, POINTS_STORED, BAD_POINTS)),
     Row("死信与坏值", (DEAD_LETTERS, LATEST_DEAD_LETTERS, BAD_NOW))),
    (STATIONS,), tags=("forecourt", "quality"), time_from="now-24h")
