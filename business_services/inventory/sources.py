"""What a reconciliation reads from elsewhere, read-only: the tank gauge's and the dispensers' telemetry
(``telemetry.metrics`` / ``telemetry.points``, the SQL meeting point of the two planes), the fuelling
transactions, the station's tanks and nozzles (master data, through ``stations.views``) and its shifts
(``shifts.views``). Nothing here writes.

Gauge metrics are ``tank{n}/volume`` (L at the product's temperature) and ``tank{n}/temperature`` (°C) on
whichever device of the station is its gauge; nozzle meters are ``fp{f}/nozzle{n}/volume_total`` on each
dispenser (docs/inventory.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg

from business_services.inventory.model import GaugeSample
from business_services.shifts import views as shifts
from business_services.stations import views as stations
from telemetry.contracts.vcf import DEFAULT_DENSITY_20, vcf20

READING_WITHIN = timedelta(minutes=30)    # a gauge reading older than this at a period's edge is no reading


@dataclass(frozen=True, slots=True)
class NozzleRef:
    device: str
    fuelling_point: int
    number: int
    grade: str


async def tanks(conn: psycopg.AsyncConnection, station: str) -> list[tuple[int, str]]:
    return [(t["number"], t["grade"]) for t in await stations.tanks_json(conn, station)]


async def nozzles(conn: psycopg.AsyncConnection, station: str) -> list[NozzleRef]:
    return [NozzleRef(n["device"], n["fuelling_point"], n["number"], n["grade"])
            for n in await stations.nozzles_json(conn, station) if n["grade"]]


async def shift_window(conn: psycopg.AsyncConnection, station: str, shift_no: str) -> tuple[datetime, datetime] | None:
    """A closed shift's start and end; None when it is unknown or still open."""
    found = await shifts.shift(conn, station, shift_no)
    if found is None or found["closed_at"] is None:
        return None
    return found["opened_at"], found["closed_at"]


async def closed_shifts_between(conn: psycopg.AsyncConnection, station: str, start: datetime,
                                end: datetime) -> list[str]:
    cur = await conn.execute(
        "SELECT shift_no FROM business.shifts WHERE station = %s AND status = 'closed'"
        " AND closed_at >= %s AND closed_at < %s ORDER BY closed_at", (station, start, end))
    return [r[0] for r in await cur.fetchall()]


async def stations_with_shifts(conn: psycopg.AsyncConnection) -> list[str]:
    """The stations whose sales this database owns (a station server: its own; head office: none)."""
    cur = await conn.execute("SELECT DISTINCT station FROM business.shifts ORDER BY station")
    return [r[0] for r in await cur.fetchall()]


_GAUGE = """
SELECT v.ts, v.value,
       (SELECT t.value FROM telemetry.points t
         WHERE t.metric_id = tm.metric_id AND t.ts <= v.ts AND t.quality = 'good' AND t.value IS NOT NULL
         ORDER BY t.ts DESC LIMIT 1) AS temperature
  FROM telemetry.metrics vm
  JOIN telemetry.metrics tm ON tm.station = vm.station AND tm.device = vm.device
                           AND tm.name = 'tank' || %(tank)s || '/temperature'
  JOIN telemetry.points v ON v.metric_id = vm.metric_id
 WHERE vm.station = %(station)s AND vm.name = 'tank' || %(tank)s || '/volume'
   AND v.ts >= %(start)s AND v.ts <= %(end)s AND v.quality = 'good' AND v.value IS NOT NULL
 ORDER BY v.ts
"""


async def gauge_series(conn: psycopg.AsyncConnection, station: str, tank: int, start: datetime, end: datetime,
                       density_20: float) -> list[GaugeSample]:
    """The tank's good volume readings between ``start`` and ``end``, each at 20 °C with the temperature read
    with it (the newest good temperature at or before it)."""
    cur = await conn.execute(_GAUGE, {"station": station, "tank": str(tank), "start": start, "end": end})
    return [GaugeSample(ts, float(value) * vcf20(float(temp), density_20), float(temp))
            for ts, value, temp in await cur.fetchall() if temp is not None]


async def gauge_at(conn: psycopg.AsyncConnection, station: str, tank: int, at: datetime,
                   density_20: float) -> GaugeSample | None:
    """The tank's last good reading at or before ``at`` (within ``READING_WITHIN``)."""
    series = await gauge_series(conn, station, tank, at - READING_WITHIN, at, density_20)
    return series[-1] if series else None


async def nozzle_meters(conn: psycopg.AsyncConnection, station: str, refs: Sequence[NozzleRef], start: datetime,
                        end: datetime) -> float | None:
    """Σ of the nozzles' totalizer movement between the last readings at or before ``start`` and ``end``
    (None when a nozzle has no reading at either edge)."""
    total = 0.0
    for ref in refs:
        name = f"fp{ref.fuelling_point}/nozzle{ref.number}/volume_total"
        edges = []
        for at in (start, end):
            cur = await conn.execute(
                "SELECT p.value FROM telemetry.metrics m JOIN telemetry.points p ON p.metric_id = m.metric_id"
                " WHERE m.station = %s AND m.device = %s AND m.name = %s AND p.ts <= %s AND p.quality = 'good'"
                " AND p.value IS NOT NULL ORDER BY p.ts DESC LIMIT 1", (station, ref.device, name, at))
            row = await cur.fetchone()
            edges.append(None if row is None else float(row[0]))
        if edges[0] is None or edges[1] is None:
            return None
        total += edges[1] - edges[0]
    return total


async def transactions(conn: psycopg.AsyncConnection, station: str, refs: Sequence[NozzleRef], start: datetime,
                       end: datetime) -> tuple[float, float | None]:
    """Σ litres of the fuellings that ended in [start, end) on these nozzles, and their totalizers' movement
    (the last after − the first before per nozzle; None without fuellings)."""
    if not refs:
        return 0.0, None
    devices, points, numbers = [r.device for r in refs], [r.fuelling_point for r in refs], [r.number for r in refs]
    cur = await conn.execute(
        "SELECT pump, fuelling_point, nozzle, sum(volume_l), min(totalizer_before_l), max(totalizer_after_l)"
        "  FROM business.fuelling_transactions"
        " WHERE station = %s AND ended_at >= %s AND ended_at < %s"
        "   AND (pump, fuelling_point::int, nozzle::int) IN"
        "       (SELECT * FROM unnest(%s::text[], %s::int[], %s::int[]))"
        " GROUP BY 1, 2, 3", (station, start, end, devices, points, numbers))
    rows = await cur.fetchall()
    litres = sum(float(r[3]) for r in rows)
    meters = sum(float(r[5]) - float(r[4]) for r in rows) if rows else None
    return litres, meters


async def sold_between(conn: psycopg.AsyncConnection, station: str, refs: Sequence[NozzleRef], start: datetime,
                       end: datetime) -> float:
    """Litres sold on these nozzles between two times (meters, else transactions): sales while a tank fills."""
    meters = await nozzle_meters(conn, station, refs, start, end)
    if meters is not None:
        return meters
    litres, _ = await transactions(conn, station, refs, start, end)
    return litres


async def dip_at(conn: psycopg.AsyncConnection, station: str, tanks_: Sequence[int], at: datetime,
                 within: timedelta = timedelta(hours=2)) -> float | None:
    """Σ over the tanks of the dip nearest ``at`` (within ``within``), at 20 °C; None if a tank has none."""
    total = 0.0
    for tank in tanks_:
        cur = await conn.execute(
            "SELECT volume_l_20 FROM business.inventory_dips WHERE station = %s AND tank = %s"
            " AND dipped_at BETWEEN %s AND %s ORDER BY abs(extract(epoch FROM dipped_at - %s)) LIMIT 1",
            (station, tank, at - within, at + within, at))
        row = await cur.fetchone()
        if row is None:
            return None
        total += float(row[0])
    return total


def density_for(grade: str) -> float:
    return DEFAULT_DENSITY_20.get(grade, 740.0)


def mean_temperature(samples: Sequence[GaugeSample]) -> float | None:
    return sum(s.temperature_c for s in samples) / len(samples) if samples else None


def as_float(value: Any) -> float | None:
    return None if value is None else float(value)
