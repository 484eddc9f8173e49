"""The gas skid's telemetry as step series for ``telemetry.analytics.gas`` (the SQL side, like telemetry/queries.py).

Metric names are those of the gas skid's OPC UA profile (protocol_adapters/opcua/profiles.py ``gas-skid-v1``):
``compressor/state``, ``cascade/{low,mid,high}/pressure``, ``cng{n}/state``, ``cng{n}/active_bank``,
``lng_tank/pressure``. Each series starts with the value holding at the window's start (the last point before
it), then every point inside; bad-quality points are left out.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg

from telemetry.analytics import gas

_GAS_METRIC = re.compile(r"^(compressor/state|cascade/(low|mid|high)/pressure|cng\d+/(state|active_bank)"
                         r"|lng_tank/pressure)$")


@dataclass(frozen=True, slots=True)
class SkidFigures:
    device: str
    holding: gas.HoldingTime | None
    cascade: gas.CascadeUsage | None          # None: the skid reports no CNG dispenser
    compressor: gas.CompressorDuty | None     # None: no compressor state


async def gas_devices(conn: psycopg.AsyncConnection[Any], station: str) -> list[str]:
    """The station's devices that report gas skid metrics."""
    cur = await conn.execute("""SELECT DISTINCT device FROM telemetry.metrics
                                 WHERE station = %s AND name IN ('compressor/state', 'lng_tank/pressure')
                                 ORDER BY device""", (station,))
    return [str(d) for (d,) in await cur.fetchall()]


async def series(conn: psycopg.AsyncConnection[Any], station: str, device: str, start: datetime,
                 end: datetime) -> dict[str, list[tuple[datetime, float]]]:
    """Every gas metric of one device on [start, end): name → step series."""
    cur = await conn.execute(
        """SELECT m.name, p.ts, p.value
             FROM telemetry.metrics m
             CROSS JOIN LATERAL (
                 (SELECT ts, value FROM telemetry.points
                   WHERE metric_id = m.metric_id AND ts <= %(start)s AND quality <> 'bad' AND value IS NOT NULL
                   ORDER BY ts DESC LIMIT 1)
                 UNION ALL
                 (SELECT ts, value FROM telemetry.points
                   WHERE metric_id = m.metric_id AND ts > %(start)s AND ts < %(end)s AND quality <> 'bad'
                     AND value IS NOT NULL)) p
            WHERE m.station = %(station)s AND m.device = %(device)s
            ORDER BY m.name, p.ts""", {"station": station, "device": device, "start": start, "end": end})
    out: dict[str, list[tuple[datetime, float]]] = defaultdict(list)
    for name, ts, value in await cur.fetchall():
        if _GAS_METRIC.match(name):
            out[name].append((ts, float(value)))
    return dict(out)


async def skid_figures(conn: psycopg.AsyncConnection[Any], station: str, device: str, start: datetime,
                       end: datetime, relief_g_mpa: float = gas.RELIEF_G_MPA,
                       rate_window: timedelta = timedelta(hours=6)) -> SkidFigures:
    """The three figures for one gas skid over [start, end) (the holding time as of ``end``)."""
    found = await series(conn, station, device, min(start, end - rate_window), end)
    dispensers = sorted({int(m.group(1)) for name in found if (m := re.match(r"^cng(\d+)/", name))})
    pairs = [(found.get(f"cng{n}/state", []), found.get(f"cng{n}/active_bank", [])) for n in dispensers]
    banks = {b: found.get(f"cascade/{b}/pressure", []) for b in ("low", "mid", "high")}
    state = found.get("compressor/state")
    return SkidFigures(
        device=device,
        holding=gas.lng_holding_time(found.get("lng_tank/pressure", []), end, relief_g_mpa, rate_window),
        cascade=gas.cascade_usage(pairs, banks, start, end) if pairs else None,
        compressor=gas.compressor_duty(state, start, end) if state else None)
