"""SQL fragments and value mappings the dashboards share.

``SERIES`` is the source of every long-range chart: raw points while Grafana's interval is under a
minute, the 1-minute rollup up to an hour, the hourly rollup beyond (the same tables on plain
PostgreSQL and TimescaleDB, see telemetry/storage/migrations). PostgreSQL drops the branches whose
``$__interval_ms`` condition is false before reading anything.
"""

# ruff: noqa: S608 - SQL text for Grafana, assembled from constant fragments; nothing here runs it with input

from __future__ import annotations

from grafana.model import value_map

SERIES = """series AS (
    SELECT metric_id, ts, value, 1::bigint AS samples FROM telemetry.points
    WHERE $__interval_ms < 60000 AND $__timeFilter(ts)
    UNION ALL
    SELECT metric_id, bucket, avg_value, samples FROM telemetry.points_1m
    WHERE $__interval_ms >= 60000 AND $__interval_ms < 3600000 AND $__timeFilter(bucket)
    UNION ALL
    SELECT metric_id, bucket, avg_value, samples FROM telemetry.points_1h
    WHERE $__interval_ms >= 3600000 AND $__timeFilter(bucket))"""

#: latest value of every metric: ``m`` the metric, ``l`` its latest value
LATEST = "telemetry.metrics m JOIN telemetry.latest l USING (metric_id)"

#: the worst quality among the grouped latest values
WORST_QUALITY = ("CASE WHEN bool_or(l.quality = 'bad') THEN 'bad' "
                 "WHEN bool_or(l.quality = 'uncertain') THEN 'uncertain' ELSE 'good' END")

#: gas detector status word (docs/protocols/gas-detector-modbus-rtu.md): bit0 warm-up, bit1 AL1, bit2 AL2,
#: bit3 fault, bit4 sensor out
DETECTOR_STATE = """CASE WHEN {s} IS NULL THEN NULL
     WHEN ({s} & 16) <> 0 THEN '探头脱落' WHEN ({s} & 8) <> 0 THEN '故障'
     WHEN ({s} & 4) <> 0 THEN '二级报警' WHEN ({s} & 2) <> 0 THEN '一级报警'
     WHEN ({s} & 1) <> 0 THEN '预热' ELSE '正常' END"""

#: everything that is alarming right now, fleet-wide: (station, device, point, alarm, ts)
ACTIVE_ALARMS = f"""alarms AS (
    SELECT m.station, m.device, m.name AS point, l.value_text AS alarm, l.ts
    FROM {LATEST} WHERE m.name ~ '^tank[0-9]+/alarms$' AND coalesce(l.value_text, '') <> ''
    UNION ALL
    SELECT m.station, m.device, m.name, {DETECTOR_STATE.format(s="l.value::int")}, l.ts
    FROM {LATEST} WHERE m.name = 'status' AND (l.value::int & 30) <> 0
      AND EXISTS (SELECT 1 FROM telemetry.metrics d
                  WHERE d.station = m.station AND d.device = m.device AND d.name = 'concentration')
    UNION ALL
    SELECT m.station, m.device, m.name, m.name, l.ts
    FROM {LATEST} WHERE m.name ~ '_alarm$' AND l.value = 1
    UNION ALL
    SELECT m.station, m.device, m.name, '充电桩故障 Faulted', l.ts
    FROM {LATEST} WHERE m.name ~ '^[^/]+/[0-9]+/status$' AND l.value_text = 'Faulted'
    UNION ALL
    SELECT s.station, s.device, '', CASE WHEN NOT s.online THEN '离线 offline' ELSE '数据过期 stale' END, s.updated_at
    FROM telemetry.sources s WHERE s.device = '' AND (NOT s.online OR s.stale))"""

#: IFSF fuelling point states 1..9 (simulators/dispenser/states.py)
FP_STATES = value_map({
    1: ("不可用", "dark-red"), 2: ("关闭", "gray"), 3: ("空闲", "green"), 4: ("提枪", "yellow"),
    5: ("已授权", "blue"), 6: ("已启动", "blue"), 7: ("暂停(启动)", "orange"), 8: ("加油中", "purple"),
    9: ("暂停(加油)", "orange"),
})
QUALITY = value_map({"good": ("正常", "green"), "uncertain": ("存疑", "orange"), "bad": ("坏值", "red")})
ONLINE = value_map({"true": ("在线", "green"), "false": ("离线", "red")})
STALE = value_map({"true": ("过期", "orange"), "false": ("最新", "green")})
#: gas detector alarm levels (GB/T 50493-2019: level 1 ≤ 25 %LEL, level 2 ≤ 50 %LEL)
LEL_THRESHOLDS: tuple[tuple[float | None, str], ...] = ((None, "green"), (25.0, "orange"), (50.0, "red"))
