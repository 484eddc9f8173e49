"""Test helpers for wet stock: a station's master data written straight into the station server's copy."""

from __future__ import annotations

import json
from datetime import datetime

import psycopg


async def seed_station(conn: psycopg.AsyncConnection, station: str, tanks: list[tuple[int, str, float]],
                       nozzles: list[tuple[str, int, int, str]], group: str = "demo-co") -> None:
    """``tanks``: (number, grade, capacity L); ``nozzles``: (dispenser, fuelling point, nozzle, grade)."""
    await conn.execute("INSERT INTO business.stations (code, name, company_group) VALUES (%s, %s, %s)"
                       " ON CONFLICT DO NOTHING", (station, "测试站", group))
    await conn.execute("INSERT INTO business.stations_devices VALUES (%s, 'atg-01', 'tank-gauge', 1, %s)"
                       " ON CONFLICT DO NOTHING", (station, json.dumps({"protocol": "tls"})))
    for i, device in enumerate(sorted({n[0] for n in nozzles}), start=2):
        await conn.execute("INSERT INTO business.stations_devices VALUES (%s, %s, 'dispenser', %s, %s)"
                           " ON CONFLICT DO NOTHING", (station, device, i, json.dumps({"protocol": "modbus-tcp"})))
    for number, grade, capacity in tanks:
        await conn.execute("INSERT INTO business.stations_tanks VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
                           (station, number, grade, capacity))
    for device, point, number, grade in nozzles:
        await conn.execute("INSERT INTO business.stations_nozzles VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                           (station, device, point, number, grade))


async def add_fuelling(conn: psycopg.AsyncConnection, station: str, number: int, litres: float, before_l: float,
                       at: object, pump: str = "disp-01", point: int = 1, nozzle: int = 1) -> None:
    """A fuelling as the business consumer records it from ``fuelling.completed``."""
    await conn.execute(
        "INSERT INTO business.fuelling_transactions (event_id, station, pump, fuelling_point, nozzle, grade,"
        " transaction_no, volume_l, amount_fen, price_fen_per_l, totalizer_before_l, totalizer_after_l, started_at,"
        " ended_at) VALUES (%s, %s, %s, %s, %s, 92, %s, %s, %s, 789, %s, %s, %s, %s)",
        (f"ev-{station}-{number}", station, pump, point, nozzle, number, litres, round(litres * 789), before_l,
         before_l + litres, at, at))


async def seed_readings(conn: psycopg.AsyncConnection, station: str,
                        readings: list[tuple[str, str, str, datetime, float]]) -> None:
    """Rows as ingest writes them: (device, metric name, unit, time, value)."""
    for device, name, unit, at, value in readings:
        cur = await conn.execute(
            "INSERT INTO telemetry.metrics (grp, station, device, name, datatype, unit) VALUES ('g', %s, %s, %s,"
            " 'Double', %s) ON CONFLICT (station, device, name) DO UPDATE SET unit = excluded.unit RETURNING metric_id",
            (station, device, name, unit))
        row = await cur.fetchone()
        assert row is not None
        await conn.execute("INSERT INTO telemetry.points (metric_id, ts, value) VALUES (%s, %s, %s)",
                           (row[0], at, value))
