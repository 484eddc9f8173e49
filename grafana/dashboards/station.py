"""站点总览 — one station now: pumps, tanks, gas pressures, chargers, gas detectors, today's fuelling."""

# ruff: noqa: S608 - SQL text for Grafana, assembled from constant fragments; nothing here runs it with input

from __future__ import annotations

from grafana.model import Column, Dashboard, Kind, Panel, Query, Row, Variable
from grafana.sql import DETECTOR_STATE, FP_STATES, LATEST, LEL_THRESHOLDS, QUALITY, SERIES, WORST_QUALITY

N, T, TIME = Kind.NUMBER, Kind.TEXT, Kind.TIME
STATION = Variable("station", "站点", "SELECT DISTINCT station FROM telemetry.metrics ORDER BY 1")

DEVICES_ONLINE = Panel(
    "stat", "设备在线", "Devices of the station that are online with current data, and those offline or stale "
    "(telemetry.sources).",
    Query("""SELECT count(*) FILTER (WHERE online AND NOT stale) AS online,
                    count(*) FILTER (WHERE NOT online OR stale) AS down
             FROM telemetry.sources WHERE station = '$station' AND device <> ''""", "table",
          (Column("online", N, "在线"), Column("down", N, "离线/过期"))), width=6, height=5)

FUELLING = Panel(
    "stat", "加油汇总", "Fuelling transactions that ended in the time range: count, litres and amount "
    "(business.fuelling_transactions; amounts are stored in fen and shown in yuan).",
    Query("""SELECT count(*) AS fuellings, coalesce(sum(volume_l), 0) AS volume_l,
                    coalesce(sum(amount_fen), 0) / 100.0 AS amount_yuan
             FROM business.fuelling_transactions WHERE station = '$station' AND $__timeFilter(ended_at)""", "table",
          (Column("fuellings", N, "笔数"), Column("volume_l", N, "升数", "litre"),
           Column("amount_yuan", N, "金额", "currencyCNY"))), width=10, height=5)

MAX_LEL = Panel(
    "stat", "可燃气体最高浓度", "Highest good reading of the station's gas detectors now, in %LEL "
    "(alarm levels 25 and 50 %LEL).",
    Query(f"""SELECT max(l.value) AS concentration FROM {LATEST}
              WHERE m.station = '$station' AND m.name = 'concentration' AND l.quality = 'good'""", "table",
          (Column("concentration", N, "最高浓度"),)), width=8, height=5, unit="suffix:%LEL",
    thresholds=LEL_THRESHOLDS)

PUMPS = Panel(
    "table", "加油点状态", "Each fuelling point now: IFSF state, the running sale's litres and amount, the worst "
    "quality of those values and when they were read.",
    Query(f"""SELECT m.device, split_part(m.name, '/', 1) AS fuelling_point,
                     (max(l.value) FILTER (WHERE m.name ~ '/state$'))::int AS state,
                     max(l.value) FILTER (WHERE m.name ~ '/volume$') AS volume,
                     max(l.value) FILTER (WHERE m.name ~ '/amount$') / 100.0 AS amount_yuan,
                     {WORST_QUALITY} AS quality, max(l.ts) AS updated
              FROM {LATEST}
              WHERE m.station = '$station' AND m.name ~ '^fp[0-9]+/(state|volume|amount)$'
              GROUP BY 1, 2 ORDER BY 1, length(split_part(m.name, '/', 1)), 2""", "table",
          (Column("device", T, "加油机"), Column("fuelling_point", T, "加油点"),
           Column("state", N, "状态", mappings=FP_STATES), Column("volume", N, "升数", "litre"),
           Column("amount_yuan", N, "金额", "currencyCNY"), Column("quality", T, "质量", mappings=QUALITY),
           Column("updated", TIME, "更新时间", "dateTimeAsIso"))))

PUMP_HISTORY = Panel(
    "state-timeline", "加油点状态历史", "IFSF state of every fuelling point over the time range (raw points).",
    Query("""SELECT p.ts AS "time", m.device || ' ' || split_part(m.name, '/', 1) AS metric, p.value AS state
             FROM telemetry.points p JOIN telemetry.metrics m USING (metric_id)
             WHERE m.station = '$station' AND m.name ~ '^fp[0-9]+/state$' AND $__timeFilter(p.ts)
             ORDER BY 1""", "time_series",
          (Column("time", TIME), Column("metric", T), Column("state", N))), mappings=FP_STATES)

TANK_FILL = Panel(
    "bargauge", "油罐液位", "How full each tank is now: volume / (volume + ullage), in percent (tank gauge).",
    Query(f"""SELECT m.device || ' ' || split_part(m.name, '/', 1) AS tank,
                     100 * max(l.value) FILTER (WHERE m.name ~ '/volume$')
                       / nullif(max(l.value) FILTER (WHERE m.name ~ '/volume$')
                                + max(l.value) FILTER (WHERE m.name ~ '/ullage$'), 0) AS fill_pct
              FROM {LATEST}
              WHERE m.station = '$station' AND m.name ~ '^tank[0-9]+/(volume|ullage)$'
              GROUP BY 1 ORDER BY 1""", "table",
          (Column("tank", T, "油罐"), Column("fill_pct", N, "液位"))),
    width=8, unit="percent", min=0, max=100,
    thresholds=((None, "red"), (10.0, "orange"), (20.0, "green"), (95.0, "red")))

_TANK_VALUES = ("volume", "tc_volume", "ullage", "height", "water", "temperature")
TANKS = Panel(
    "table", "油罐库存", "Latest tank gauge values per tank: gross and 20 °C volume, ullage, product and water "
    "height, temperature; a probe fault shows as bad quality with empty values.",
    Query(f"""SELECT m.device, split_part(m.name, '/', 1) AS tank,
                     {", ".join(f"max(l.value) FILTER (WHERE split_part(m.name, '/', 2) = '{v}') AS {v}"
                                for v in _TANK_VALUES)},
                     {WORST_QUALITY} AS quality, max(l.ts) AS updated
              FROM {LATEST}
              WHERE m.station = '$station' AND m.name ~ '^tank[0-9]+/({"|".join(_TANK_VALUES)})$'
              GROUP BY 1, 2 ORDER BY 1, length(split_part(m.name, '/', 1)), 2""", "table",
          (Column("device", T, "液位仪"), Column("tank", T, "油罐"), Column("volume", N, "体积", "litre"),
           Column("tc_volume", N, "标准体积(20°C)", "litre"), Column("ullage", N, "空容", "litre"),
           Column("height", N, "油高", "lengthmm"), Column("water", N, "水高", "lengthmm"),
           Column("temperature", N, "油温", "celsius"), Column("quality", T, "质量", mappings=QUALITY),
           Column("updated", TIME, "更新时间", "dateTimeAsIso"))), width=16)

TANK_VOLUMES = Panel(
    "timeseries", "油罐体积", "Gross volume of every tank over the time range (raw points, or the 1 min / 1 h "
    "rollups for long ranges).",
    Query(f"""WITH {SERIES}
              SELECT $__timeGroupAlias(s.ts, $__interval), m.device || ' ' || split_part(m.name, '/', 1) AS metric,
                     avg(s.value) AS volume
              FROM series s JOIN telemetry.metrics m USING (metric_id)
              WHERE m.station = '$station' AND m.name ~ '^tank[0-9]+/volume$'
              GROUP BY 1, 2 ORDER BY 1""", "time_series",
          (Column("time", TIME), Column("metric", T), Column("volume", N))), width=24, unit="litre")

GAS_PRESSURES = Panel(
    "timeseries", "燃气压力", "Gauge pressures of the gas skid (compressor, cascade banks, CNG/LNG) in MPa(g): "
    "every metric with unit MPa_g except setpoints.",
    Query(f"""WITH {SERIES}
              SELECT $__timeGroupAlias(s.ts, $__interval), m.device || ' ' || m.name AS metric,
                     avg(s.value) AS pressure
              FROM series s JOIN telemetry.metrics m USING (metric_id)
              WHERE m.station = '$station' AND m.unit = 'MPa_g'
                AND m.name !~ '(setpoint|start_pressure|stop_pressure|target)'
              GROUP BY 1, 2 ORDER BY 1""", "time_series",
          (Column("time", TIME), Column("metric", T), Column("pressure", N))), unit="suffix:MPa")

CHARGERS = Panel(
    "table", "充电桩状态", "Each charger connector now (OCPP): status, power, meter energy, state of charge.",
    Query(f"""SELECT split_part(m.name, '/', 1) AS charger, split_part(m.name, '/', 2)::int AS connector,
                     max(l.value_text) FILTER (WHERE m.name ~ '/status$') AS status,
                     max(l.value) FILTER (WHERE m.name ~ '/power$') AS power,
                     max(l.value) FILTER (WHERE m.name ~ '/energy$') AS energy,
                     max(l.value) FILTER (WHERE m.name ~ '/soc$') AS soc, max(l.ts) AS updated
              FROM {LATEST}
              WHERE m.station = '$station' AND m.name ~ '^[^/]+/[0-9]+/(status|power|energy|soc)$'
              GROUP BY 1, 2 ORDER BY 1, 2""", "table",
          (Column("charger", T, "充电桩"), Column("connector", N, "枪"), Column("status", T, "状态"),
           Column("power", N, "功率", "kwatt"), Column("energy", N, "电表读数", "kwatth"),
           Column("soc", N, "SOC", "percent"), Column("updated", TIME, "更新时间", "dateTimeAsIso"))))

DETECTORS = Panel(
    "table", "可燃气体探测器", "Each gas detector now: concentration in %LEL and its alarm state "
    "(status word: warm-up, AL1, AL2, fault, sensor out).",
    Query(f"""SELECT m.device, max(l.value) FILTER (WHERE m.name = 'concentration') AS concentration,
                     {DETECTOR_STATE.format(s="(max(l.value) FILTER (WHERE m.name = 'status'))::int")} AS state,
                     {WORST_QUALITY} AS quality, max(l.ts) AS updated
              FROM {LATEST}
              WHERE m.station = '$station' AND m.name IN ('concentration', 'status')
                AND m.device IN (SELECT device FROM telemetry.metrics
                                 WHERE station = '$station' AND name = 'concentration')
              GROUP BY 1 ORDER BY 1""", "table",
          (Column("device", T, "探测器"), Column("concentration", N, "浓度", "suffix:%LEL"),
           Column("state", T, "状态"), Column("quality", T, "质量", mappings=QUALITY),
           Column("updated", TIME, "更新时间", "dateTimeAsIso"))))

LEL_HISTORY = Panel(
    "timeseries", "可燃气体浓度", "Gas detector concentrations over the time range, in %LEL.",
    Query(f"""WITH {SERIES}
              SELECT $__timeGroupAlias(s.ts, $__interval), m.device AS metric, max(s.value) AS concentration
              FROM series s JOIN telemetry.metrics m USING (metric_id)
              WHERE m.station = '$station' AND m.name = 'concentration'
              GROUP BY 1, 2 ORDER BY 1""", "time_series",
          (Column("time", TIME), Column("metric", T), Column("concentration", N))),
    unit="suffix:%LEL", thresholds=LEL_THRESHOLDS)

DASHBOARD = Dashboard(
    "forecourt-station", "站点总览",
    "Station overview: pump states, tank levels and volumes, gas pressures, charger states, gas detectors and "
    "the fuelling of the time range, for the station chosen above.",
    (Row("概况", (DEVICES_ONLINE, FUELLING, MAX_LEL)),
     Row("加油机", (PUMPS, PUMP_HISTORY)),
     Row("油罐", (TANK_FILL, TANKS, TANK_VOLUMES)),
     Row("燃气、充电与安全", (GAS_PRESSURES, CHARGERS, DETECTORS, LEL_HISTORY))),
    (STATION,), tags=("forecourt", "station"))
