"""油罐详情 — one tank of one tank gauge: inventory now, trends, alarms, deliveries, bad readings."""

# ruff: noqa: S608 - SQL text for Grafana, assembled from constant fragments; nothing here runs it with input

from __future__ import annotations

from grafana.model import Column, Dashboard, Kind, Panel, Query, Row, Variable
from grafana.sql import LATEST, QUALITY, SERIES

N, T, TIME = Kind.NUMBER, Kind.TEXT, Kind.TIME

STATION = Variable("station", "站点", "SELECT DISTINCT station FROM telemetry.metrics ORDER BY 1")
GAUGE = Variable("gauge", "液位仪", """SELECT DISTINCT device FROM telemetry.metrics
                                     WHERE station = '$station' AND name ~ '^tank[0-9]+/volume$' ORDER BY 1""")
TANK = Variable("tank", "油罐", """SELECT DISTINCT split_part(name, '/', 1) FROM telemetry.metrics
                                 WHERE station = '$station' AND device = '$gauge' AND name ~ '^tank[0-9]+/volume$'
                                 ORDER BY 1""")

#: the chosen tank's metrics: ``m.name = '$tank/<name>'`` for one of these
THIS_TANK = "m.station = '$station' AND m.device = '$gauge' AND split_part(m.name, '/', 1) = '$tank'"


def _latest(names: tuple[str, ...]) -> str:
    return ", ".join(f"max(l.value) FILTER (WHERE m.name = '$tank/{n}') AS {n}" for n in names)


def _trend(names: tuple[str, ...]) -> str:
    """A wide time series: one averaged column per metric of the chosen tank."""
    columns = ", ".join(f"avg(s.value) FILTER (WHERE m.name = '$tank/{n}') AS {n}" for n in names)
    return f"""WITH {SERIES}
               SELECT $__timeGroupAlias(s.ts, $__interval), {columns}
               FROM series s JOIN telemetry.metrics m USING (metric_id)
               WHERE {THIS_TANK} AND m.name IN ({", ".join(f"'$tank/{n}'" for n in names)})
               GROUP BY 1 ORDER BY 1"""


INVENTORY = Panel(
    "stat", "当前库存", "The tank now: gross volume, volume corrected to 20 °C (GB/T 1885), ullage and how full "
    "it is (volume / (volume + ullage)).",
    Query(f"""SELECT {_latest(("volume", "tc_volume", "ullage"))},
                     100 * max(l.value) FILTER (WHERE m.name = '$tank/volume')
                       / nullif(max(l.value) FILTER (WHERE m.name = '$tank/volume')
                                + max(l.value) FILTER (WHERE m.name = '$tank/ullage'), 0) AS fill_pct
              FROM {LATEST} WHERE {THIS_TANK}""", "table",
          (Column("volume", N, "体积", "litre"), Column("tc_volume", N, "标准体积(20°C)", "litre"),
           Column("ullage", N, "空容", "litre"), Column("fill_pct", N, "液位", "percent"))),
    width=14, height=5)

LEVELS = Panel(
    "stat", "油高、水高与油温", "The tank now: product height and water height in mm, product temperature in °C.",
    Query(f"""SELECT {_latest(("height", "water", "temperature"))} FROM {LATEST} WHERE {THIS_TANK}""", "table",
          (Column("height", N, "油高", "lengthmm"), Column("water", N, "水高", "lengthmm"),
           Column("temperature", N, "油温", "celsius"))), width=10, height=5)

VOLUME_TREND = Panel(
    "timeseries", "体积", "Gross and 20 °C volume over the time range.",
    Query(_trend(("volume", "tc_volume")), "time_series",
          (Column("time", TIME), Column("volume", N, "体积"), Column("tc_volume", N, "标准体积(20°C)"))),
    width=24, unit="litre")

HEIGHT_TREND = Panel(
    "timeseries", "油高与水高", "Product and water height over the time range; rising water is a leak or a "
    "bad delivery.",
    Query(_trend(("height", "water")), "time_series",
          (Column("time", TIME), Column("height", N, "油高"), Column("water", N, "水高"))), unit="lengthmm")

TEMPERATURE_TREND = Panel(
    "timeseries", "油温", "Product temperature over the time range.",
    Query(_trend(("temperature",)), "time_series", (Column("time", TIME), Column("temperature", N, "油温"))),
    unit="celsius")

ALARMS = Panel(
    "table", "报警记录", "Every change of the tank's alarm list in the time range (comma-separated TLS alarm "
    "names; an empty list means the alarms cleared).",
    Query(f"""SELECT p.ts AS "time", coalesce(nullif(p.value_text, ''), '(已清除)') AS alarms
              FROM telemetry.points p JOIN telemetry.metrics m USING (metric_id)
              WHERE {THIS_TANK} AND m.name = '$tank/alarms' AND $__timeFilter(p.ts)
              ORDER BY 1 DESC LIMIT 200""", "table",
          (Column("time", TIME, "时间"), Column("alarms", T, "报警"))), width=8)

DELIVERIES = Panel(
    "table", "卸油记录", "The newest delivery's volume each time the gauge reported a new one in the time range.",
    Query(f"""SELECT p.ts AS "time", p.value AS volume
              FROM telemetry.points p JOIN telemetry.metrics m USING (metric_id)
              WHERE {THIS_TANK} AND m.name = '$tank/last_delivery_volume' AND p.value IS NOT NULL
                AND $__timeFilter(p.ts)
              ORDER BY 1 DESC LIMIT 200""", "table",
          (Column("time", TIME, "时间"), Column("volume", N, "卸油量", "litre"))), width=6)

BAD_READINGS = Panel(
    "table", "坏质量读数", "Readings of this tank that were not good in the time range, with the reason "
    "(sensor-fault: probe out, comm-loss: gauge unreachable).",
    Query(f"""SELECT p.ts AS "time", split_part(m.name, '/', 2) AS point, p.quality, coalesce(p.reason, '') AS reason
              FROM telemetry.points p JOIN telemetry.metrics m USING (metric_id)
              WHERE {THIS_TANK} AND p.quality <> 'good' AND $__timeFilter(p.ts)
              ORDER BY 1 DESC LIMIT 200""", "table",
          (Column("time", TIME, "时间"), Column("point", T, "点位"), Column("quality", T, "质量", mappings=QUALITY),
           Column("reason", T, "原因"))), width=10)

DASHBOARD = Dashboard(
    "forecourt-tank", "油罐详情",
    "Tank detail: inventory now, volume, height, water and temperature trends, alarm history, deliveries and "
    "bad readings of one tank (choose station, tank gauge and tank above).",
    (Row("当前", (INVENTORY, LEVELS)),
     Row("趋势", (VOLUME_TREND, HEIGHT_TREND, TEMPERATURE_TREND)),
     Row("报警、卸油与质量", (ALARMS, DELIVERIES, BAD_READINGS))),
    (STATION, GAUGE, TANK), tags=("forecourt", "tank"), time_from="now-24h")
