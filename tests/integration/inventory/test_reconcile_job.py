"""The reconcile_tanks job on a station server's database: yesterday (a station-local day) and each shift
closed in the last 36 hours, for the stations whose shifts the database owns; run twice, the same rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from business_services.inventory.handlers import reconcile_due
from business_services.jobs import JOBS
from tests.integration.inventory.support import add_fuelling, seed_readings, seed_station

pytestmark = pytest.mark.integration

STATION = "st-job"
NOW = datetime(2026, 12, 4, 2, 0, tzinfo=UTC)                 # 10:00 on 2026-12-04 in Asia/Shanghai
YESTERDAY_START = datetime(2026, 12, 2, 16, 0, tzinfo=UTC)    # 2026-12-03 00:00 there


def test_the_job_is_scheduled() -> None:
    assert any(job.name == "reconcile_tanks" for job in JOBS)


async def test_yesterday_and_the_closed_shifts_are_reconciled_once(station_database_url: str) -> None:
    async with await psycopg.AsyncConnection.connect(station_database_url, autocommit=True) as conn:
        await seed_station(conn, STATION, [(1, "0", 50_000.0)], [("disp-01", 1, 1, "0")])
        opened, closed = NOW - timedelta(hours=10), NOW - timedelta(hours=2)
        await conn.execute(
            "INSERT INTO business.shifts (shift_no, station, status, opened_at, opened_by, closed_at, closed_by,"
            " report)"
            " VALUES ('st-job-20261204-S00001', %s, 'closed', %s, 'cashier', %s, 'cashier', '{}')",
            (STATION, opened, closed))
        await add_fuelling(conn, STATION, 1, 400.0, 9_000.0, opened + timedelta(hours=1))
        minute = timedelta(minutes=1)
        await seed_readings(conn, STATION, [
            ("atg-01", "tank1/temperature", "°C", YESTERDAY_START - 5 * minute, 12.0),
            ("atg-01", "tank1/volume", "L", YESTERDAY_START - minute, 30_000.0),
            ("atg-01", "tank1/volume", "L", opened - minute, 30_000.0),
            ("atg-01", "tank1/volume", "L", closed - minute, 29_600.0)])

        async with conn.transaction():
            written = await reconcile_due(conn, NOW)
        assert written == 2                                     # the day 2026-12-03 and the shift
        async with conn.transaction():
            assert await reconcile_due(conn, NOW) == 2
        rows = await (await conn.execute(
            "SELECT period, period_key, status FROM business.inventory_reconciliations ORDER BY period")).fetchall()
        assert rows == [("day", "2026-12-03", "ok"), ("shift", "st-job-20261204-S00001", "ok")]


async def test_head_office_has_no_shifts_of_its_own_and_reconciles_nothing(database_url: str) -> None:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await seed_station(conn, STATION, [(1, "0", 50_000.0)], [("disp-01", 1, 1, "0")])
        assert await reconcile_due(conn, NOW) == 0
