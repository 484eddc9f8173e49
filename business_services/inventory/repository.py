"""SQL that writes the inventory context's tables (``business.inventory_*``), on the caller's connection.

Every write is keyed so a retry or a recomputation changes nothing it should not: a note by its number, a dip
by tank and time, a movement by its reference, a detected delivery by tank and start, a reconciliation by
period and tank group, an alarm condition by (station, rule, source).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from typing import Any

import psycopg

from business_services.inventory.model import (
    Condition,
    DeliveryNote,
    DetectedDelivery,
    Reconciliation,
    RecordDeliveryNote,
    RecordDip,
    RecordMovement,
    RoadLoss,
    Season,
    Tolerance,
)
from telemetry.contracts.events.inventory import InventoryReconciled


async def add_note(conn: psycopg.AsyncConnection, note: RecordDeliveryNote, invoiced_l_20: float,
                   by: str) -> bool:
    """True when recorded; False when the station has this note number already (a retry)."""
    cur = await conn.execute(
        "INSERT INTO business.inventory_delivery_notes (station, note_no, tank, supplier, carrier, vehicle, arrived_at,"
        " invoiced_l_20, invoiced_l_observed, observed_temperature_c, density_20, recorded_by)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, round(%s::numeric, 2), %s, %s, %s, %s) ON CONFLICT DO NOTHING",
        (note.station, note.note_no, note.tank, note.supplier, note.carrier, note.vehicle, note.arrived_at,
         invoiced_l_20, note.invoiced_l_observed, note.observed_temperature_c, note.density_20, by))
    return cur.rowcount == 1


async def notes_between(conn: psycopg.AsyncConnection, station: str, start: datetime,
                        end: datetime) -> list[DeliveryNote]:
    cur = await conn.execute(
        "SELECT note_no, tank, arrived_at, invoiced_l_20 FROM business.inventory_delivery_notes"
        " WHERE station = %s AND arrived_at BETWEEN %s AND %s ORDER BY arrived_at", (station, start, end))
    return [DeliveryNote(r[0], r[1], r[2], float(r[3])) for r in await cur.fetchall()]


async def add_dip(conn: psycopg.AsyncConnection, dip: RecordDip, volume_l_20: float, by: str) -> bool:
    cur = await conn.execute(
        "INSERT INTO business.inventory_dips (station, tank, dipped_at, level_mm, water_mm, volume_l, temperature_c,"
        " volume_l_20, recorded_by) VALUES (%s, %s, %s, %s, %s, %s, %s, round(%s::numeric, 2), %s)"
        " ON CONFLICT DO NOTHING",
        (dip.station, dip.tank, dip.dipped_at, dip.level_mm, dip.water_mm, dip.volume_l, dip.temperature_c,
         volume_l_20, by))
    return cur.rowcount == 1


async def add_movement(conn: psycopg.AsyncConnection, m: RecordMovement, by: str) -> bool:
    cur = await conn.execute(
        "INSERT INTO business.inventory_movements (station, reference, tank, kind, litres, at, recorded_by)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
        (m.station, m.reference, m.tank, m.kind, m.litres, m.at, by))
    return cur.rowcount == 1


async def movements(conn: psycopg.AsyncConnection, station: str, tanks: list[int], start: datetime,
                    end: datetime) -> dict[str, float]:
    cur = await conn.execute(
        "SELECT kind, sum(litres) FROM business.inventory_movements WHERE station = %s AND tank = ANY(%s)"
        " AND at >= %s AND at < %s GROUP BY kind", (station, tanks, start, end))
    return {r[0]: float(r[1]) for r in await cur.fetchall()}


async def tolerance(conn: psycopg.AsyncConnection, grade: str, season: Season) -> Tolerance:
    cur = await conn.execute(
        "SELECT station_loss_pct, station_loss_min_l, road_loss_pct FROM business.inventory_tolerances"
        " WHERE grade = %s AND season = %s", (grade, season))
    row = await cur.fetchone()
    if row is None:
        return Tolerance(grade, season)
    return Tolerance(grade, season, float(row[0]), float(row[1]), float(row[2]))


async def set_tolerance(conn: psycopg.AsyncConnection, t: Tolerance) -> Tolerance | None:
    """The tolerance before (None when it is already this one: a retry changes nothing)."""
    before = await tolerance(conn, t.grade, t.season)
    if before == t:
        return None
    await conn.execute(
        "INSERT INTO business.inventory_tolerances VALUES (%s, %s, %s, %s, %s) ON CONFLICT (grade, season) DO UPDATE"
        " SET station_loss_pct = excluded.station_loss_pct, station_loss_min_l = excluded.station_loss_min_l,"
        " road_loss_pct = excluded.road_loss_pct",
        (t.grade, t.season, t.station_loss_pct, t.station_loss_min_l, t.road_loss_pct))
    return before


async def save_delivery(conn: psycopg.AsyncConnection, station: str, tank: int, d: DetectedDelivery, sold_l: float,
                        received_l: float, note_no: str | None, loss: RoadLoss | None) -> None:
    await conn.execute(
        "INSERT INTO business.inventory_deliveries (station, tank, started_at, ended_at, before_l_20, after_l_20,"
        " sold_l_20, received_l_20, note_no, road_loss_l, road_loss_pct, road_limit_l, exceeded)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (station, tank, started_at) DO UPDATE SET ended_at = excluded.ended_at,"
        " before_l_20 = excluded.before_l_20, after_l_20 = excluded.after_l_20, sold_l_20 = excluded.sold_l_20,"
        " received_l_20 = excluded.received_l_20, note_no = excluded.note_no, road_loss_l = excluded.road_loss_l,"
        " road_loss_pct = excluded.road_loss_pct, road_limit_l = excluded.road_limit_l, exceeded = excluded.exceeded",
        (station, tank, d.started_at, d.ended_at, round(d.before_l, 2), round(d.after_l, 2), round(sold_l, 2),
         round(received_l, 2), note_no, None if loss is None else round(loss.loss_l, 2),
         None if loss is None else round(loss.loss_pct, 3), None if loss is None else round(loss.limit_l, 2),
         bool(loss and loss.exceeded)))


def _round(value: float | None, places: int = 2) -> float | None:
    return None if value is None else round(value, places)


def detail_json(r: Reconciliation) -> dict[str, Any]:
    return {"movements": asdict(r.movements), "sales_observed_l": round(r.sales_observed_l, 2),
            "arts": {k: _round(v) for k, v in asdict(r.arts).items()},
            "arts_spreads": {k: _round(v) for k, v in r.arts.spreads().items()}, "notes": list(r.notes)}


_FIGURES = ("tanks", "grade", "starts_at", "ends_at", "opening_l", "deliveries_l", "sales_l", "book_l", "closing_l",
            "variance_l", "loss_pct", "limit_l", "status", "detail")


async def save_reconciliation(conn: psycopg.AsyncConnection, station: str, r: Reconciliation) -> datetime | None:
    """Write (or replace) one result; its ``computed_at`` when the figures are new or changed, None when the same
    figures were there already (then nothing is written and nothing needs to travel)."""
    sets = ", ".join(f"{c} = excluded.{c}" for c in _FIGURES)
    old = ", ".join(f"inventory_reconciliations.{c}" for c in _FIGURES)
    new = ", ".join(f"excluded.{c}" for c in _FIGURES)
    cur = await conn.execute(
        "INSERT INTO business.inventory_reconciliations (station, tank, period, period_key, tanks, grade, starts_at,"  # noqa: S608
        " ends_at, opening_l, deliveries_l, sales_l, book_l, closing_l, variance_l, loss_pct, limit_l, status, detail,"
        " computed_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, now())"
        f" ON CONFLICT (station, period, period_key, tank) DO UPDATE SET {sets}, computed_at = now()"
        f" WHERE ({old}) IS DISTINCT FROM ({new}) RETURNING computed_at",
        (station, r.tank, r.period, r.period_key, list(r.tanks), r.grade, r.starts_at, r.ends_at,
         _round(r.opening_l), round(r.deliveries_l, 2), round(r.sales_l, 2), _round(r.book_l), _round(r.closing_l),
         _round(r.variance_l), _round(r.loss_pct, 3), round(r.limit_l, 2), r.status, json.dumps(detail_json(r))))
    row = await cur.fetchone()
    return None if row is None else row[0]


async def copy_reconciliation(conn: psycopg.AsyncConnection, e: InventoryReconciled) -> bool:
    """Head office: keep a station's result if it is newer than the copy held (a redelivery changes nothing)."""
    sets = ", ".join(f"{c} = excluded.{c}" for c in (*_FIGURES, "computed_at"))
    cur = await conn.execute(
        "INSERT INTO business.inventory_reconciliations (station, tank, period, period_key, tanks, grade, starts_at,"  # noqa: S608
        " ends_at, opening_l, deliveries_l, sales_l, book_l, closing_l, variance_l, loss_pct, limit_l, status, detail,"
        " computed_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
        f" ON CONFLICT (station, period, period_key, tank) DO UPDATE SET {sets}"
        " WHERE inventory_reconciliations.computed_at < excluded.computed_at",
        (e.station, e.tank, e.period, e.period_key, list(e.tanks), e.grade, e.starts_at, e.ends_at, e.opening_l,
         e.deliveries_l, e.sales_l, e.book_l, e.closing_l, e.variance_l, e.loss_pct, e.limit_l, e.status,
         json.dumps(e.detail), e.computed_at))
    return cur.rowcount == 1


async def signal(conn: psycopg.AsyncConnection, c: Condition) -> bool:
    """Raise (``active``) or clear an alarm condition, in the caller's transaction; True when its state changed.

    Two rows: the context's own record (``business.inventory_conditions``, what the wet-stock pages show) and the
    alarm engine's external condition (``alarms.external_conditions``, the SQL its seam
    ``telemetry/alarms/external.py`` documents for other planes: business_services does not import telemetry's
    internals), evaluated by the station's engine against the rules ``inventory.station_loss`` /
    ``inventory.road_loss`` (config/alarm-rules.yaml). A repeat of the same state changes neither."""
    cur = await conn.execute(
        "INSERT INTO business.inventory_conditions (station, rule, source, active, value, \"limit\", message)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (station, rule, source) DO UPDATE"
        " SET active = excluded.active, value = excluded.value, \"limit\" = excluded.\"limit\","
        " message = excluded.message, changed_at = now()"
        " WHERE (inventory_conditions.active, inventory_conditions.value)"
        "       IS DISTINCT FROM (excluded.active, excluded.value)"
        " RETURNING 1", (c.station, c.rule, c.source, c.active, c.value, c.limit, c.message))
    if await cur.fetchone() is None:
        return False
    await conn.execute(
        "INSERT INTO alarms.external_conditions (station, rule, source, active, value, limit_value, message)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (station, rule, source) DO UPDATE"
        " SET active = excluded.active, value = excluded.value, limit_value = excluded.limit_value,"
        " message = excluded.message, updated_at = now()",
        (c.station, c.rule, c.source, c.active, c.value, c.limit, c.message[:500]))
    await conn.execute("SELECT pg_notify('telemetry_latest', %s)", (json.dumps({"station": c.station, "device": ""}),))
    return True
