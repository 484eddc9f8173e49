"""SQL of statistical leak detection: the daily reconciliation it reads, the verdicts it writes.

The input is the daily reconciliation per tank (WETSTOCK's, business_services/inventory): until that table
lands, the job reads ``DAYS_TABLE`` when it exists and does nothing otherwise. The columns it needs are those of
``leak.DailyReconciliation`` (litres at 20 °C), one row per station, tank and business day.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import Any

import psycopg
from psycopg.rows import dict_row

from business_services.inventory.leak import DailyReconciliation, LeakTest

DAYS_TABLE = "business.tank_days"          # TODO(merge wt-wetstock): the daily reconciliation's table
WINDOW_DAYS = 90                           # the job tests the last 90 days (≥ 30 needed): docs/leak-detection.md


async def days_table_exists(conn: psycopg.AsyncConnection[Any]) -> bool:
    row = await (await conn.execute("SELECT to_regclass(%s) IS NOT NULL", (DAYS_TABLE,))).fetchone()
    return bool(row and row[0])


async def tanks_with_days(conn: psycopg.AsyncConnection[Any], since: date) -> list[tuple[str, int]]:
    cur = await conn.execute(f"SELECT DISTINCT station, tank FROM {DAYS_TABLE} WHERE day >= %s "  # noqa: S608
                             "ORDER BY station, tank", (since,))
    return [(str(s), int(t)) for s, t in await cur.fetchall()]


async def daily_records(conn: psycopg.AsyncConnection[Any], station: str, tank: int, since: date,
                        until: date) -> list[DailyReconciliation]:
    """One tank's days from ``since`` to ``until`` (inclusive), in day order."""
    cur = await conn.execute(
        f"SELECT day, opening_l, deliveries_l, sales_l, closing_l FROM {DAYS_TABLE} "  # noqa: S608
        "WHERE station = %s AND tank = %s AND day BETWEEN %s AND %s ORDER BY day", (station, tank, since, until))
    return [DailyReconciliation(d, float(o), float(dl), float(s), float(c)) for d, o, dl, s, c in await cur.fetchall()]


async def save(conn: psycopg.AsyncConnection[Any], station: str, tank: int, result: LeakTest) -> bool:
    """Store a verdict; False when this tank's test for that last day is already stored (a re-run)."""
    row = asdict(result)
    row.update(station=station, tank=tank, verdict=result.verdict.value)
    cur = await conn.execute(
        """INSERT INTO business.leak_tests (station, tank, last_day, first_day, days, verdict, leak_rate_l_h,
               threshold_l_h, mdlr_l_h, target_l_h, standard_error_l_h, loss_per_litre_sold_pct, calibrated,
               throughput_l)
           VALUES (%(station)s, %(tank)s, %(last_day)s, %(first_day)s, %(days)s, %(verdict)s, %(leak_rate_l_h)s,
               %(threshold_l_h)s, %(mdlr_l_h)s, %(target_l_h)s, %(standard_error_l_h)s,
               %(loss_per_litre_sold_pct)s, %(calibrated)s, %(throughput_l)s)
           ON CONFLICT (station, tank, last_day) DO NOTHING""", row)
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


async def days_available(conn: psycopg.AsyncConnection[Any], station: str, tank: int, since: date) -> int:
    if not await days_table_exists(conn):
        return 0
    cur = await conn.execute(f"SELECT count(*) FROM {DAYS_TABLE} WHERE station = %s AND tank = %s "  # noqa: S608
                             "AND day >= %s", (station, tank, since))
    row = await cur.fetchone()
    return int(row[0]) if row else 0
