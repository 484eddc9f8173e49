"""Rollups on plain PostgreSQL: 1 min and 1 h buckets with min, max, avg, last and count, refreshed idempotently."""

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from telemetry.records import MetricDef, PointRow
from telemetry.storage import rollups
from telemetry.storage.repository import TelemetryWriter

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


async def test_buckets_hold_min_max_avg_last_and_count(database_url: str) -> None:
    writer = TelemetryWriter()
    values = [(T0 + timedelta(seconds=20 * i), float(v)) for i, v in enumerate([3, 1, 2, 10, 4, 6])]
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        assert not await rollups.is_timescale(conn)
        async with conn.transaction():
            await writer.metric_ids(conn, [MetricDef("g", "st", "tank-1", "tank1/volume", "DOUBLE", "L")])
            await writer.write_points(conn, [PointRow("st", "tank-1", "tank1/volume", ts, v, None, "good", None,
                                                      False) for ts, v in values])
        for _ in range(2):      # a second refresh over the same window changes nothing
            async with conn.transaction():
                await rollups.refresh(conn, T0)
        minutes = await (await conn.execute(
            "SELECT bucket, min_value, max_value, avg_value, last_value, samples FROM telemetry.points_1m "
            "ORDER BY bucket")).fetchall()
        hours = await (await conn.execute(
            "SELECT min_value, max_value, last_value, samples FROM telemetry.points_1h")).fetchall()
    assert minutes == [(T0, 1.0, 3.0, 2.0, 2.0, 3), (T0 + timedelta(minutes=1), 4.0, 10.0, 20 / 3, 6.0, 3)]
    assert hours == [(1.0, 10.0, 6.0, 6)]


async def test_the_plain_variant_was_applied_and_the_timescale_one_was_not(database_url: str) -> None:
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        names = {r[0] for r in await (await conn.execute("SELECT name FROM public.schema_migrations")).fetchall()}
    assert "0003_rollups.plain.sql" in names and "0003_rollups.tsdb.sql" not in names
