"""SQL of statistical leak detection: the daily reconciliation it reads, the verdicts it writes.

The input is the reconciliation's day results (``business.inventory_reconciliations``, period ``day``: one row
per station, tank group — numbered by its lowest tank — and station-local day; docs/inventory.md), computed at
the station server and copied to head office, so the job finds them in either role. A day still ``incomplete``
(no gauge reading at an edge) is left out, like a missing day.
"""

from __future__ import annotations

from dataclasses import astuple, fields
from datetime import date
from typing import Any

import psycopg
from psycopg.rows import dict_row

from business_services.inventory.leak import DailyReconciliation, LeakTest

WINDOW_DAYS = 90                           # the job tests the last 90 days (≥ 30 needed): docs/leak-detection.md
_DAYS = """FROM business.inventory_reconciliations
          WHERE period = 'day' AND status <> 'incomplete' AND period_key BETWEEN %(since)s AND %(until)s"""
_RESULT = tuple(f.name for f in fields(LeakTest))


async def tanks_with_days(conn: psycopg.AsyncConnection[Any], since: date, until: date) -> list[tuple[str, int]]:
    cur = await conn.execute(f"SELECT DISTINCT station, tank {_DAYS} ORDER BY station, tank",
                             {"since": since.isoformat(), "until": until.isoformat()})
    return [(str(s), int(t)) for s, t in await cur.fetchall()]


async def daily_records(conn: psycopg.AsyncConnection[Any], station: str, tank: int, since: date,
                        until: date) -> list[DailyReconciliation]:
    """One tank group's complete days from ``since`` to ``until`` (inclusive), in day order. Transfers and pump
    tests are what the book holds beyond opening + deliveries − sales."""
    cur = await conn.execute(
        f"""SELECT period_key, opening_l, deliveries_l, sales_l, closing_l, book_l,
                   extract(epoch FROM ends_at - starts_at) / 3600
            {_DAYS} AND station = %(station)s AND tank = %(tank)s ORDER BY period_key""",  # noqa: S608
        {"since": since.isoformat(), "until": until.isoformat(), "station": station, "tank": tank})
    out = []
    for day, opening, delivered, sold, closing, book, hours in await cur.fetchall():
        moved = float(book) - (float(opening) + float(delivered) - float(sold))
        out.append(DailyReconciliation(date.fromisoformat(day), float(opening), float(delivered), float(sold),
                                       float(closing), float(hours), movements_l=moved))
    return out


async def save(conn: psycopg.AsyncConnection[Any], station: str, tank: int, result: LeakTest) -> bool:
    """Store a verdict; False when the same result for that last day is stored already (a re-run). When the
    reconciliation of a day in the window was recomputed since, the new result replaces the old one."""
    values = dict(zip(_RESULT, astuple(result), strict=True))
    values.update(station=station, tank=tank, verdict=result.verdict.value)
    columns = [c for c in _RESULT if c != "last_day"]
    cur = await conn.execute(
        f"""INSERT INTO business.leak_tests (station, tank, last_day, {", ".join(columns)})
            VALUES (%(station)s, %(tank)s, %(last_day)s, {", ".join(f"%({c})s" for c in columns)})
            ON CONFLICT (station, tank, last_day) DO UPDATE
               SET {", ".join(f"{c} = excluded.{c}" for c in columns)}, computed_at = now()
             WHERE ({", ".join(f"leak_tests.{c}" for c in columns)})
                   IS DISTINCT FROM ({", ".join(f"excluded.{c}" for c in columns)})""", values)  # noqa: S608
    return cur.rowcount == 1


async def history(conn: psycopg.AsyncConnection[Any], station: str, tank: int, limit: int) -> list[dict[str, Any]]:
    """The tank's verdicts, newest first (the API's read)."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("""SELECT last_day, first_day, days, verdict, leak_rate_l_h, threshold_l_h, mdlr_l_h,
                                    target_l_h, standard_error_l_h, loss_per_litre_sold_pct, calibrated,
                                    throughput_l, computed_at
                               FROM business.leak_tests WHERE station = %s AND tank = %s
                              ORDER BY last_day DESC LIMIT %s""", (station, tank, limit))
        return await cur.fetchall()


async def days_available(conn: psycopg.AsyncConnection[Any], station: str, tank: int) -> int:
    """Complete days in the window that ends at the tank's latest complete day (what a test would use)."""
    cur = await conn.execute(
        """WITH days AS (SELECT period_key::date AS day FROM business.inventory_reconciliations
                          WHERE period = 'day' AND status <> 'incomplete' AND station = %s AND tank = %s)
           SELECT count(*) FROM days WHERE day > (SELECT max(day) FROM days) - %s""", (station, tank, WINDOW_DAYS))
    row = await cur.fetchone()
    return int(row[0]) if row else 0
