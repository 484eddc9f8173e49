"""全网总览 — every station at once: online, sales, tank inventory, active alarms (station variable)."""

# ruff: noqa: S608 - SQL text for Grafana, assembled from constant fragments; nothing here runs it with input

from __future__ import annotations

from grafana.model import Column, Dashboard, Kind, Panel, Query, Row, Variable
from grafana.sql import ACTIVE_ALARMS, LATEST, ONLINE, SERIES

N, T, TIME, B = Kind.NUMBER, Kind.TEXT, Kind.TIME, Kind.BOOL

STATIONS = Variable("station", "站点", "SELECT DISTINCT station FROM telemetry.metrics ORDER BY 1",
                    multi=True, include_all=True)

NODES = Panel(
    "stat", "站点在线", "Stations (edge nodes) chosen above: online with current data, and offline or stale.",
    Query("""SELECT count(*) AS stations, count(*) FILTER (WHERE online AND NOT stale) AS online,
                    count(*) FILTER (WHERE NOT online OR stale) AS down
             FROM telemetry.sources WHERE device = '' AND station IN ($station)""", "table",
          (Column("stations", N, "站点"), Column("online", N, "在线"), Column("down", N, "离线/过期"))),
    width=8, height=5)

SALES = Panel(
    "stat", "加油汇总", "Fuelling transactions of the chosen stations that ended in the time range: count, "
    "litres, amount (yuan).",
    Query("""SELECT count(*) AS fuellings, coalesce(sum(volume_l), 0) AS volume_l,
                    coalesce(sum(amount_fen), 0) / 100.0 AS amount_yuan
             FROM business.fuelling_transactions WHERE station IN ($station) AND $__timeFilter(ended_at)""", "table",
          (Column("fuellings", N, "笔数"), Column("volume_l", N, "升数", "litre"),
           Column("amount_yuan", N, "金额", "currencyCNY"))), width=11, height=5)

ALARM_COUNT = Panel(
    "stat", "当前报警", "Alarms active now at the chosen stations: tank alarms, gas detector alarms, gas skid "
    "alarms, faulted chargers, offline or stale stations.",
    Query(f"""WITH {ACTIVE_ALARMS} SELECT count(*) AS alarms FROM alarms WHERE station IN ($station)""", "table",
          (Column("alarms", N, "报警"),)), width=5, height=5, thresholds=((None, "green"), (1.0, "red")))

STATIONS_TABLE = Panel(
    "table", "站点一览", "One line per station: online, devices and those down, values not good now, when data "
    "last arrived, and the fuelling of the time range.",
    Query(f"""WITH st AS (SELECT DISTINCT station FROM telemetry.metrics WHERE station IN ($station)),
                   node AS (SELECT station, online AND NOT stale AS online FROM telemetry.sources WHERE device = ''),
                   dev AS (SELECT station, count(*) AS devices,
                                  count(*) FILTER (WHERE NOT online OR stale) AS devices_down
                           FROM telemetry.sources WHERE device <> '' GROUP BY station),
                   data AS (SELECT m.station, max(l.received_at) AS last_received,
                                   count(*) FILTER (WHERE l.quality <> 'good') AS bad_values
                            FROM {LATEST} GROUP BY m.station),
                   sales AS (SELECT station, count(*) AS fuellings, sum(volume_l) AS volume_l,
                                    sum(amount_fen) / 100.0 AS amount_yuan
                             FROM business.fuelling_transactions WHERE $__timeFilter(ended_at) GROUP BY station)
              SELECT st.station, coalesce(node.online, false) AS online, coalesce(dev.devices, 0) AS devices,
                     coalesce(dev.devices_down, 0) AS devices_down, coalesce(data.bad_values, 0) AS bad_values,
                     data.last_received, coalesce(sales.fuellings, 0) AS fuellings,
                     coalesce(sales.volume_l, 0) AS volume_l, coalesce(sales.amount_yuan, 0) AS amount_yuan
              FROM st LEFT JOIN node USING (station) LEFT JOIN dev USING (station)
                   LEFT JOIN data USING (station) LEFT JOIN sales USING (station)
              ORDER BY st.station""", "table",
          (Column("station", T, "站点"), Column("online", B, "状态", mappings=ONLINE), Column("devices", N, "设备"),
           Column("devices_down", N, "离线设备"), Column("bad_values", N, "坏值"),
           Column("last_received", TIME, "最后数据", "dateTimeAsIso"), Column("fuellings", N, "笔数"),
           Column("volume_l", N, "升数", "litre"), Column("amount_yuan", N, "金额", "currencyCNY"))),
    width=24, height=9)

VOLUME_PER_STATION = Panel(
    "timeseries", "各站每小时加油量", "Litres sold per station per hour (transactions by end time).",
    Query("""SELECT $__timeGroupAlias(ended_at, '1h'), station AS metric, sum(volume_l) AS volume
             FROM business.fuelling_transactions WHERE station IN ($station) AND $__timeFilter(ended_at)
             GROUP BY 1, 2 ORDER BY 1""", "time_series",
          (Column("time", TIME), Column("metric", T), Column("volume", N))),
    width=14, unit="litre", options={"legend": {"displayMode": "table", "placement": "right", "showLegend": True,
                                                "calcs": ["sum"]}})

AMOUNT_PER_STATION = Panel(
    "bargauge", "各站销售额", "Amount of the fuelling that ended in the time range, per station (yuan).",
    Query("""SELECT station, sum(amount_fen) / 100.0 AS amount_yuan
             FROM business.fuelling_transactions WHERE station IN ($station) AND $__timeFilter(ended_at)
             GROUP BY 1 ORDER BY 2 DESC""", "table",
          (Column("station", T, "站点"), Column("amount_yuan", N, "金额"))), width=10, unit="currencyCNY")

INVENTORY = Panel(
    "timeseries", "各站油罐库存", "Sum of the gross volumes of every tank per station over the time range "
    "(each tank averaged per interval, then added up).",
    Query(f"""WITH {SERIES},
                   per_tank AS (SELECT $__timeGroup(s.ts, $__interval) AS bucket, m.station, s.metric_id,
                                       avg(s.value) AS volume
                                FROM series s JOIN telemetry.metrics m USING (metric_id)
                                WHERE m.station IN ($station) AND m.name ~ '^tank[0-9]+/volume$'
                                GROUP BY 1, 2, 3)
              SELECT bucket AS "time", station AS metric, sum(volume) AS volume
              FROM per_tank GROUP BY 1, 2 ORDER BY 1""", "time_series",
          (Column("time", TIME), Column("metric", T), Column("volume", N))), width=14, unit="litre")

ALARMS = Panel(
    "table", "当前报警", "Everything alarming now at the chosen stations, newest first.",
    Query(f"""WITH {ACTIVE_ALARMS}
              SELECT station, device, point, alarm, ts FROM alarms WHERE station IN ($station)
              ORDER BY ts DESC LIMIT 200""", "table",
          (Column("station", T, "站点"), Column("device", T, "设备"), Column("point", T, "点位"),
           Column("alarm", T, "报警"), Column("ts", TIME, "时间", "dateTimeAsIso"))), width=10)

ALARM_RATE = Panel(
    "timeseries", "每10分钟新报警 (ISA-18.2)", "New alarm occurrences per station per 10 minutes from the alarm "
    "engine's journal (alarms.journal: raised from normal). ISA-18.2 asks for no more than about 1 per 10 minutes "
    "per operator on average and never a flood of more than 10. The full KPIs: GET /api/v1/alarms/kpis.",
    Query("""SELECT $__timeGroupAlias(at, '10m'), station AS metric, count(*) AS alarms
             FROM alarms.journal WHERE station IN ($station) AND $__timeFilter(at)
                  AND state_from = 'normal' AND state_to = 'unacknowledged'
             GROUP BY 1, 2 ORDER BY 1""", "time_series",
          (Column("time", TIME), Column("metric", T), Column("alarms", N))),
    width=14, thresholds=((None, "green"), (10.0, "red")))

ALARM_STANDING = Panel(
    "stat", "报警状态 (ISA-18.2)", "Open alarm occurrences at the chosen stations now: all of them, those not yet "
    "acknowledged, standing ones (open for more than 24 hours) and those shelved or out of service.",
    Query("""SELECT count(*) AS open,
                    count(*) FILTER (WHERE state IN ('unacknowledged', 'returned_unacknowledged')) AS unacknowledged,
                    count(*) FILTER (WHERE raised_at < now() - interval '24 hours') AS standing,
                    count(*) FILTER (WHERE state IN ('shelved', 'out_of_service')) AS held
             FROM alarms.alarms WHERE closed_at IS NULL AND station IN ($station)""", "table",
          (Column("open", N, "未关闭"), Column("unacknowledged", N, "未确认"), Column("standing", N, "长期报警"),
           Column("held", N, "搁置/停用"))), width=10)

DASHBOARD = Dashboard(
    "forecourt-fleet", "全网总览",
    "Fleet overview: stations online, sales, tank inventory and active alarms across the stations chosen "
    "above (all by default).",
    (Row("全网", (NODES, SALES, ALARM_COUNT, STATIONS_TABLE)),
     Row("销售", (VOLUME_PER_STATION, AMOUNT_PER_STATION)),
     Row("库存与报警", (INVENTORY, ALARMS)),
     Row("报警指标", (ALARM_RATE, ALARM_STANDING))),
    (STATIONS,), tags=("forecourt", "fleet"), time_from="now-24h")
