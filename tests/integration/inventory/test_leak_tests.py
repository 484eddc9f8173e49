"""The daily leak-test job and ``GET /api/v1/stations/{s}/tanks/{n}/leak-test`` on a real database and API.

The days are the reconciliation's own day results (``business.inventory_reconciliations``, as
business_services/inventory writes them), filled from the wet-stock day simulator: one tight tank and one
leaking 3 L/h; a day left incomplete and a pump test poured back are read the way the reconciliation means them."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import httpx
import psycopg
import pytest

from business_services.inventory.leak_job import run_leak_tests
from business_services.numbers import STATION_ZONE
from simulators.tank_gauge.wetstock import WetStockConditions, WetStockDays, simulate_days
from tests.integration.api.support import client, running_api
from tests.support.auth import TEST_TOKENS, headers

pytestmark = pytest.mark.integration
NOW = datetime(2026, 4, 2, 0, 0, tzinfo=UTC)      # 08:00 China time: yesterday is 2026-04-01
LAST_DAY = date(2026, 4, 1)


async def reconciled_days(conn: psycopg.AsyncConnection, station: str, tanks: dict[int, WetStockDays],
                          last_day: date, pump_test_l: float = 0.0, incomplete: int | None = None) -> None:
    """Day results as the reconciliation stores them, one simulated tank (row 0) per tank number. ``pump_test_l``
    poured back on the first day (book and closing both higher); day index ``incomplete`` has no closing."""
    for tank, sim in tanks.items():
        days = sim.sales_l.shape[1]
        for k in range(days):
            day = last_day - timedelta(days=days - 1 - k)
            starts = datetime(day.year, day.month, day.day, tzinfo=STATION_ZONE)
            poured = pump_test_l if k == 0 else 0.0
            opening = float(sim.opening_l[0, k]) + (pump_test_l if k > 0 else 0.0)
            book = opening + float(sim.deliveries_l[0, k]) - float(sim.sales_l[0, k]) + poured
            closing = float(sim.closing_l[0, k]) + pump_test_l
            done = k != incomplete
            await conn.execute(
                """INSERT INTO business.inventory_reconciliations (station, tank, period, period_key, tanks, grade,
                       starts_at, ends_at, opening_l, deliveries_l, sales_l, book_l, closing_l, variance_l, limit_l,
                       status, detail)
                   VALUES (%s, %s, 'day', %s, %s, '92', %s, %s, %s, %s, %s, %s, %s, %s, 50, %s, %s)""",
                (station, tank, day.isoformat(), [tank], starts, starts + timedelta(days=1), opening,
                 round(float(sim.deliveries_l[0, k]), 2), round(float(sim.sales_l[0, k]), 2), book if done else None,
                 closing if done else None, book - closing if done else None, "ok" if done else "incomplete",
                 json.dumps({})))


async def _fill(conn: psycopg.AsyncConnection, days: int, **kwargs: object) -> None:
    conditions = replace(WetStockConditions(), days=days)
    tanks = {tank: simulate_days(1, leak, 7, conditions) for tank, leak in ((1, 0.0), (2, 3.0))}
    await reconciled_days(conn, "st-01", tanks, LAST_DAY, **kwargs)  # type: ignore[arg-type]


async def test_the_job_does_nothing_without_daily_results(database_url: str) -> None:
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        assert await run_leak_tests(conn, NOW) == 0


async def test_too_few_days_store_nothing_and_the_route_says_how_many(database_url: str) -> None:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await _fill(conn, 30, incomplete=29)                        # 29 complete days: the incomplete one is out
        assert await run_leak_tests(conn, NOW) == 0
    async with running_api(database_url) as port, client(port, "inventory:read") as http:
        body = (await http.get("/api/v1/stations/st-01/tanks/1/leak-test")).json()
    assert body["latest"] is None and body["days_needed"] == 30
    assert "需要至少 30 天" in body["message"] and body["days_available"] == 29


async def test_daily_verdicts_stored_once_and_served(database_url: str) -> None:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await _fill(conn, 60, pump_test_l=20.0)
        assert await run_leak_tests(conn, NOW) == 2
        assert await run_leak_tests(conn, NOW) == 0                 # a re-run (or a second worker) adds nothing
        count = await (await conn.execute("SELECT count(*) FROM business.leak_tests")).fetchone()
        assert count == (2,)
        raised = await (await conn.execute("SELECT count(*) FROM alarms.external_conditions")).fetchone()
        assert raised == (0,)          # head office (no shifts of its own) leaves the alarm to the station server

    async with running_api(database_url) as port, client(port, "inventory:read") as http:
        leaking = (await http.get("/api/v1/stations/st-01/tanks/2/leak-test")).json()
        assert leaking["latest"]["verdict"] == "fail" and leaking["latest"]["verdict_zh"] == "未通过 (fail)"
        assert leaking["latest"]["leak_rate_l_h"] == pytest.approx(3.0, abs=1.2)
        assert leaking["latest"]["days"] == 60 and leaking["latest"]["last_day"] == "2026-04-01"
        tight = (await http.get("/api/v1/stations/st-01/tanks/1/leak-test")).json()
        assert tight["latest"]["verdict"] in {"pass", "inconclusive"}
        assert abs(tight["latest"]["leak_rate_l_h"]) < tight["latest"]["threshold_l_h"]

        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as anonymous:
            assert (await anonymous.get("/api/v1/stations/st-01/tanks/2/leak-test")).status_code == 401
        async with client(port, "device:read") as no_permission:
            assert (await no_permission.get("/api/v1/stations/st-01/tanks/2/leak-test")).status_code == 403
        other_station = headers(TEST_TOKENS, "inventory:read", stations=frozenset({"st-02"}))
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=other_station) as scoped:
            assert (await scoped.get("/api/v1/stations/st-01/tanks/2/leak-test")).status_code == 403


async def test_a_recomputed_day_changes_the_stored_verdict(database_url: str) -> None:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await _fill(conn, 40)
        assert await run_leak_tests(conn, NOW) == 2
        # the reconciliation recomputes a day of the tight tank: 400 L more missing than it had thought
        await conn.execute("""UPDATE business.inventory_reconciliations SET closing_l = closing_l - 400,
                                     variance_l = variance_l + 400, computed_at = now()
                               WHERE tank = 1 AND period_key = %s""", ((LAST_DAY - timedelta(days=1)).isoformat(),))
        await conn.execute("""UPDATE business.inventory_reconciliations SET opening_l = opening_l - 400
                               WHERE tank = 1 AND period_key = %s""", (LAST_DAY.isoformat(),))
        await conn.execute("UPDATE business.inventory_reconciliations SET book_l = book_l - 400 "
                           "WHERE tank = 1 AND period_key = %s", (LAST_DAY.isoformat(),))
        assert await run_leak_tests(conn, NOW) == 1
        row = await (await conn.execute("SELECT count(*), max(leak_rate_l_h) FROM business.leak_tests "
                                        "WHERE tank = 1")).fetchone()
        assert row is not None and row[0] == 1 and row[1] > 0.3   # one verdict per day, now showing the loss


async def test_a_fail_raises_the_leak_alarm_where_the_reconciliation_is_computed(station_database_url: str) -> None:
    async with await psycopg.AsyncConnection.connect(station_database_url, autocommit=True) as conn:
        await conn.execute(      # a station server: it holds the station's shifts, so it computes its wet stock
            "INSERT INTO business.shifts (shift_no, station, status, opened_at, opened_by, closed_at, closed_by,"
            " report) VALUES ('st-01-20260401-S00001', 'st-01', 'closed', %s, 'cashier', %s, 'cashier', '{}')",
            (NOW - timedelta(hours=20), NOW - timedelta(hours=12)))
        await _fill(conn, 40)
        assert await run_leak_tests(conn, NOW) == 2
        rows = await (await conn.execute(
            "SELECT source, active, value > limit_value FROM alarms.external_conditions"
            " WHERE rule = 'inventory.leak_test' ORDER BY source")).fetchall()
        assert rows == [("tank-1", False, False), ("tank-2", True, True)]
        assert await run_leak_tests(conn, NOW) == 0                 # again: no new verdict, no new condition
