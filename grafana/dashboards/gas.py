"""加气分析 — one gas skid: LNG tank pressure and holding time, CNG cascade bank usage, compressor duty.

The same figures as ``GET /api/v1/stations/{s}/gas-analytics`` (telemetry/analytics/gas.py, docs/gas-analytics.md),
in SQL. Two simplifications against the API, said in each panel's description: the holding time's rate of rise
is the plain least-squares slope of the last 6 hours (the API leaves out the dip of a fill and adds the
saturation-curve figure), and bank usage counts switches to a bank (the API counts fills from the dispenser's
state).
"""

# ruff: noqa: S608 - SQL text for Grafana, assembled from constant fragments; nothing here runs it with input

from __future__ import annotations

from grafana.model import Column, Dashboard, Kind, Panel, Query, Row, Variable
from grafana.sql import SERIES

N, T, TIME = Kind.NUMBER, Kind.TEXT, Kind.TIME
RELIEF_G_MPA = 1.1        # domain.md §2.5; telemetry.analytics.gas.RELIEF_G_MPA

STATION = Variable("station", "站点", "SELECT DISTINCT station FROM telemetry.metrics ORDER BY 1")
SKID = Variable("skid", "加气撬", """SELECT DISTINCT device FROM telemetry.metrics
                                   WHERE station = '$station' AND name IN ('compressor/state', 'lng_tank/pressure')
                                   ORDER BY 1""")

THIS_SKID = "m.station = '$station' AND m.device = '$skid'"
_POINTS = "telemetry.points p JOIN telemetry.metrics m USING (metric_id)"


def _trend(names: dict[str, str]) -> str:
    columns = ", ".join(f"avg(s.value) FILTER (WHERE m.name = '{n}') AS {alias}" for n, alias in names.items())
    return f"""WITH {SERIES}
               SELECT $__timeGroupAlias(s.ts, $__interval), {columns}
               FROM series s JOIN telemetry.metrics m USING (metric_id)
               WHERE {THIS_SKID} AND m.name IN ({", ".join(f"'{n}'" for n in names)})
               GROUP BY 1 ORDER BY 1"""


LNG_PRESSURE = Panel(
    "timeseries", "LNG 储罐压力", f"LNG tank pressure (MPa gauge) over the time range; the relief valve lifts at "
    f"{RELIEF_G_MPA} MPa (red line).",
    Query(_trend({"lng_tank/pressure": "pressure"}), "time_series",
          (Column("time", TIME), Column("pressure", N, "储罐压力"))),
    width=14, unit="pressurempa", thresholds=((None, "green"), (RELIEF_G_MPA, "red")),
    options={"custom": {"thresholdsStyle": {"mode": "line"}}})

HOLDING_TIME = Panel(
    "stat", "LNG 保压时间", "Hours until the LNG tank reaches relief pressure at the current rate of rise: the "
    "least-squares slope of the last 6 hours of pressure readings (up to the newest). Empty when the pressure is "
    "not rising. The API's figure also leaves out a fill's dip and gives the (shorter) saturation-curve time.",
    Query(f"""WITH p AS (
                  SELECT p.ts, p.value FROM {_POINTS}
                  WHERE {THIS_SKID} AND m.name = 'lng_tank/pressure' AND p.quality <> 'bad' AND p.value IS NOT NULL
                    AND p.ts > (SELECT max(l.ts) - interval '6 hours'
                                FROM telemetry.metrics m2 JOIN telemetry.latest l USING (metric_id)
                                WHERE m2.station = '$station' AND m2.device = '$skid'
                                  AND m2.name = 'lng_tank/pressure')),
              fit AS (SELECT regr_slope(value, extract(epoch FROM ts)) * 3600 AS mpa_h,
                             (array_agg(value ORDER BY ts DESC))[1] AS latest FROM p)
              SELECT latest, 1000 * mpa_h AS rise_kpa_h,
                     CASE WHEN mpa_h > 0 THEN greatest({RELIEF_G_MPA} - latest, 0) / mpa_h END AS hours_to_relief
              FROM fit""", "table",
          (Column("latest", N, "当前压力", "pressurempa"), Column("rise_kpa_h", N, "升压速率 kPa/h"),
           Column("hours_to_relief", N, "距安全阀起跳", "h"))),
    width=10, height=8)

BANK_PRESSURES = Panel(
    "timeseries", "储气井组压力", "CNG cascade bank pressures (MPa gauge): vehicles draw low → mid → high, the "
    "compressor refills high → mid → low.",
    Query(_trend({"cascade/low/pressure": "low", "cascade/mid/pressure": "mid", "cascade/high/pressure": "high"}),
          "time_series", (Column("time", TIME), Column("low", N, "低压组"), Column("mid", N, "中压组"),
                          Column("high", N, "高压组"))),
    width=14, unit="pressurempa")

BANK_USAGE = Panel(
    "table", "储气井组使用", "How many times each bank started supplying a CNG dispenser in the time range "
    "(a switch of cng<n>/active_bank to it); a fill that reaches the high bank means the cascade ran low for it.",
    Query(f"""WITH s AS (
                  SELECT p.value, lag(p.value) OVER (PARTITION BY m.metric_id ORDER BY p.ts) AS before
                  FROM {_POINTS}
                  WHERE {THIS_SKID} AND m.name ~ '^cng[0-9]+/active_bank$' AND $__timeFilter(p.ts))
              SELECT CASE value::int WHEN 1 THEN '低压组 low' WHEN 2 THEN '中压组 mid' ELSE '高压组 high' END AS bank,
                     count(*) AS supplies
              FROM s WHERE value IN (1, 2, 3) AND before IS DISTINCT FROM value
              GROUP BY value ORDER BY value""", "table",
          (Column("bank", T, "井组"), Column("supplies", N, "供气次数"))),
    width=10)

COMPRESSOR_DUTY = Panel(
    "stat", "压缩机负荷", "Compressor duty over the time range from its state (starting or running count as "
    "running): the running share of the time its state was known, and starts per hour.",
    Query(f"""WITH s AS (
                  SELECT p.ts, p.value, lag(p.value) OVER (ORDER BY p.ts) AS before,
                         lead(p.ts, 1, least(now(), $__timeTo()::timestamptz)) OVER (ORDER BY p.ts) AS until
                  FROM {_POINTS}
                  WHERE {THIS_SKID} AND m.name = 'compressor/state' AND $__timeFilter(p.ts))
              SELECT 100 * sum(extract(epoch FROM until - ts)) FILTER (WHERE value IN (1, 2))
                       / nullif(sum(extract(epoch FROM until - ts)), 0) AS running_pct,
                     count(*) FILTER (WHERE value IN (1, 2) AND before NOT IN (1, 2))
                       / greatest(extract(epoch FROM $__timeTo()::timestamptz - $__timeFrom()::timestamptz) / 3600,
                                  1e-9) AS starts_per_hour
              FROM s""", "table",
          (Column("running_pct", N, "运行率", "percent"), Column("starts_per_hour", N, "每小时启动次数"))),
    width=10, height=6)

COMPRESSOR_PRESSURES = Panel(
    "timeseries", "压缩机压力", "Compressor suction and discharge pressure (MPa gauge).",
    Query(_trend({"compressor/suction_pressure": "suction", "compressor/discharge_pressure": "discharge"}),
          "time_series", (Column("time", TIME), Column("suction", N, "进气压力"), Column("discharge", N, "排气压力"))),
    width=14, unit="pressurempa")

DASHBOARD = Dashboard(
    "forecourt-gas", "加气分析",
    "Gas skid analytics: LNG tank pressure and holding time to relief, CNG cascade bank pressures and usage, "
    "compressor duty (choose station and gas skid above). docs/gas-analytics.md.",
    (Row("LNG 储罐", (LNG_PRESSURE, HOLDING_TIME)),
     Row("CNG 储气井组", (BANK_PRESSURES, BANK_USAGE)),
     Row("压缩机", (COMPRESSOR_PRESSURES, COMPRESSOR_DUTY))),
    (STATION, SKID), tags=("forecourt", "gas"), time_from="now-24h")
