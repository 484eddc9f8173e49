"""Read queries of the inventory context for the API and the report files: reconciliations, a period's report,
delivery notes with what the gauge received, dips, tolerances and alarm conditions. Plain JSON-able dicts.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.rows import dict_row

from business_services.inventory.model import Period
from business_services.stations.model import GRADES

_RECONCILIATION = ("tank, tanks, grade, period, period_key, starts_at, ends_at, opening_l, deliveries_l, sales_l,"
                   " book_l, closing_l, variance_l, loss_pct, limit_l, status, detail, computed_at")


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _row(row: dict[str, Any]) -> dict[str, Any]:
    out = {k: _plain(v) for k, v in row.items()}
    if "grade" in out:
        out["grade_name"] = GRADES[out["grade"]].name if out["grade"] in GRADES else out["grade"]
    return out


async def reconciliations(conn: psycopg.AsyncConnection, station: str, period: Period, *, key: str | None = None,
                          day_from: date | None = None, day_to: date | None = None,
                          limit: int = 200) -> list[dict[str, Any]]:
    """A station's results of one kind of period, newest first: one period (``key``) or a range of days."""
    where, params = ["station = %(station)s", "period = %(period)s"], {"station": station, "period": period,
                                                                       "limit": limit}
    if key is not None:
        where.append("period_key = %(key)s")
        params["key"] = key
    if day_from is not None:
        where.append("(starts_at AT TIME ZONE 'Asia/Shanghai')::date >= %(day_from)s")
        params["day_from"] = day_from
    if day_to is not None:
        where.append("(starts_at AT TIME ZONE 'Asia/Shanghai')::date <= %(day_to)s")
        params["day_to"] = day_to
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(f"SELECT {_RECONCILIATION} FROM business.inventory_reconciliations"  # noqa: S608 (our text)
                          f" WHERE {' AND '.join(where)} ORDER BY starts_at DESC, tank LIMIT %(limit)s", params)
        return [{"id": f"{r['period_key']}/{r['tank']}", **_row(r)} for r in await cur.fetchall()]


async def deliveries(conn: psycopg.AsyncConnection, station: str, start: datetime | None = None,
                     end: datetime | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """Delivery notes (卸车记录), newest first, each with the gauge's delivery matched to it (or none yet)."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT n.note_no, n.tank, n.supplier, n.carrier, n.vehicle, n.arrived_at, n.invoiced_l_20,"
            "       n.invoiced_l_observed, n.observed_temperature_c, n.density_20, n.recorded_by,"
            "       d.started_at, d.ended_at, d.received_l_20, d.road_loss_l, d.road_loss_pct, d.road_limit_l,"
            "       d.exceeded"
            "  FROM business.inventory_delivery_notes n"
            "  LEFT JOIN business.inventory_deliveries d ON d.station = n.station AND d.note_no = n.note_no"
            " WHERE n.station = %s AND (%s::timestamptz IS NULL OR n.arrived_at >= %s)"
            "   AND (%s::timestamptz IS NULL OR n.arrived_at < %s)"
            " ORDER BY n.arrived_at DESC LIMIT %s", (station, start, start, end, end, limit))
        return [_row(r) for r in await cur.fetchall()]


async def detected_deliveries(conn: psycopg.AsyncConnection, station: str, start: datetime,
                              end: datetime) -> list[dict[str, Any]]:
    """The deliveries the gauge's data showed in [start, end), matched or not."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT tank, started_at, ended_at, before_l_20, after_l_20, sold_l_20, received_l_20, note_no,"
            " road_loss_l, road_loss_pct, road_limit_l, exceeded FROM business.inventory_deliveries"
            " WHERE station = %s AND started_at >= %s AND started_at < %s ORDER BY started_at", (station, start, end))
        return [_row(r) for r in await cur.fetchall()]


async def dips(conn: psycopg.AsyncConnection, station: str, limit: int = 200) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT tank || '/' || dipped_at AS id, tank, dipped_at, level_mm, water_mm, volume_l, temperature_c,"
            "       volume_l_20, recorded_by"
            "  FROM business.inventory_dips WHERE station = %s ORDER BY dipped_at DESC LIMIT %s", (station, limit))
        return [_row(r) for r in await cur.fetchall()]


async def tolerances(conn: psycopg.AsyncConnection) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("SELECT grade, season, station_loss_pct, station_loss_min_l, road_loss_pct"
                          "  FROM business.inventory_tolerances ORDER BY grade, season")
        return [_row(r) for r in await cur.fetchall()]


async def conditions(conn: psycopg.AsyncConnection, station: str) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute('SELECT rule, source, active, value, "limit", message, changed_at'
                          "  FROM business.inventory_conditions WHERE station = %s ORDER BY changed_at DESC",
                          (station,))
        return [_row(r) for r in await cur.fetchall()]


async def report(conn: psycopg.AsyncConnection, station: str, period: Period, key: str) -> dict[str, Any] | None:
    """One period's report (a day or a shift): its tanks' results and the deliveries in it; None if not computed."""
    rows = sorted(await reconciliations(conn, station, period, key=key), key=lambda r: r["tank"])
    if not rows:
        return None
    start, end = datetime.fromisoformat(rows[0]["starts_at"]), datetime.fromisoformat(rows[0]["ends_at"])
    return {"station": station, "period": period, "period_key": key, "starts_at": rows[0]["starts_at"],
            "ends_at": rows[0]["ends_at"], "tanks": rows,
            "deliveries": await detected_deliveries(conn, station, start, end)}
