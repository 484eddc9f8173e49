"""The daily leak-test job and ``GET /api/v1/stations/{s}/tanks/{n}/leak-test`` on a real database and API.

The daily reconciliation (WETSTOCK's table) is not on this branch yet: the test creates ``DAYS_TABLE`` with the
columns the job reads and fills it from the wet-stock day simulator, one tight tank and one leaking 3 L/h."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import httpx
import psycopg
import pytest

from business_services.inventory import leak_repository
from business_services.inventory.leak_job import run_leak_tests
from simulators.tank_gauge.wetstock import WetStockConditions, WetStockDays, simulate_days
from tests.integration.api.support import client, running_api
from tests.support.auth import TEST_TOKENS, headers

pytestmark = pytest.mark.integration
NOW = datetime(2026, 4, 2, 0, 0, tzinfo=UTC)      # 08:00 China time: yesterday is 2026-04-01
LAST_DAY = date(2026, 4, 1)


async def days_table(conn: psycopg.AsyncConnection, station: str, tanks: dict[int, WetStockDays],
                     last_day: date) -> None:
    """The stand-in daily reconciliation: one simulated tank (row 0 of its days) per tank number."""
    await conn.execute(f"""CREATE TABLE IF NOT EXISTS {leak_repository.DAYS_TABLE} (
        station text, tank integer, day date, opening_l double precision, deliveries_l double precision,
        sales_l double precision, closing_l double precision, PRIMARY KEY (station, tank, day))""")
    for tank, sim in tanks.items():
        days = sim.sales_l.shape[1]
        for k in range(days):
            await conn.execute(f"INSERT INTO {leak_repository.DAYS_TABLE} VALUES (%s, %s, %s, %s, %s, %s, %s)",  # noqa: S608
                               (station, tank, last_day - timedelta(days=days - 1 - k), sim.opening_l[0, k],
                                sim.deliveries_l[0, k], sim.sales_l[0, k], sim.closing_l[0, k]))


async def _fill_days(conn: psycopg.AsyncConnection, days: int) -> None:
    conditions = replace(WetStockConditions(), days=days)
    tanks = {tank: simulate_days(1, leak, 7, conditions) for tank, leak in ((1, 0.0), (2, 3.0))}
    await days_table(conn, "st-01", tanks, LAST_DAY)


async def test_the_job_does_nothing_before_the_daily_reconciliation_exists(database_url: str) -> None:
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        assert await run_leak_tests(conn, NOW) == 0


async def test_too_few_days_store_nothing_and_the_route_says_how_many(database_url: str) -> None:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await _fill_days(conn, 20)
        assert await run_leak_tests(conn, NOW) == 0
    async with running_api(database_url) as port, client(port, "report:read") as http:
        body = (await http.get("/api/v1/stations/st-01/tanks/1/leak-test")).json()
    assert body["latest"] is None and body["days_needed"] == 30
    assert "需要至少 30 天" in body["message"]


async def test_daily_verdicts_stored_once_and_served(database_url: str) -> None:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await _fill_days(conn, 60)
        assert await run_leak_tests(conn, NOW) == 2
        assert await run_leak_tests(conn, NOW) == 0                 # a re-run (or a second worker) adds nothing
        count = await (await conn.execute("SELECT count(*) FROM business.leak_tests")).fetchone()
        assert count == (2,)

    async with running_api(database_url) as port, client(port, "report:read") as http:
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
        other_station = headers(TEST_TOKENS, "report:read", stations=frozenset({"st-02"}))
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=other_station) as scoped:
            assert (await scoped.get("/api/v1/stations/st-01/tanks/2/leak-test")).status_code == 403
