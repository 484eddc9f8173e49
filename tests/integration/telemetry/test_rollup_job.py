"""The rollup refresh off the write loop: every committed point lands in the rollups; a failed refresh keeps
its window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from telemetry.ingest.rollup_job import RollupJob
from telemetry.records import MetricDef, PointRow
from telemetry.storage.repository import TelemetryWriter

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


async def _write(conn: psycopg.AsyncConnection, writer: TelemetryWriter, job: RollupJob,
                 times: list[datetime]) -> None:
    async with conn.transaction():
        await writer.metric_ids(conn, [MetricDef("g", "st", "tank-1", "tank1/volume", "DOUBLE", "L")])
        await writer.write_points(conn, [PointRow("st", "tank-1", "tank1/volume", ts, float(i), None, "good", None,
                                                  False) for i, ts in enumerate(times)])
    job.mark(min(times))        # as the batch store does, after the commit


async def _samples(conn: psycopg.AsyncConnection) -> tuple[int, int, int]:
    points = await (await conn.execute("SELECT count(*) FROM telemetry.points")).fetchone()
    minute = await (await conn.execute("SELECT coalesce(sum(samples), 0) FROM telemetry.points_1m")).fetchone()
    hour = await (await conn.execute("SELECT coalesce(sum(samples), 0) FROM telemetry.points_1h")).fetchone()
    assert points and minute and hour
    return points[0], minute[0], hour[0]


async def test_every_committed_point_lands_in_the_rollups_late_ones_too(database_url: str) -> None:
    writer, job = TelemetryWriter(), RollupJob(database_url, every_s=0)
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await _write(conn, writer, job, [T0 + timedelta(seconds=10 * i) for i in range(6)])
        await job.refresh_once()
        await _write(conn, writer, job, [T0 + timedelta(minutes=5, seconds=i) for i in range(3)])
        # store-and-forwarded: older than anything the last refresh covered, committed in the same window
        await _write(conn, writer, job, [T0 - timedelta(hours=2)])
        assert job.pending
        await job.refresh_once()
        assert not job.pending and job.refreshes == 2
        assert await _samples(conn) == (10, 10, 10)


async def test_a_failed_refresh_keeps_its_window_for_the_next_one(database_url: str) -> None:
    writer, job = TelemetryWriter(), RollupJob("postgresql://postgres@127.0.0.1:1/nowhere", every_s=0)
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await _write(conn, writer, job, [T0 + timedelta(seconds=i) for i in range(4)])
        with pytest.raises(psycopg.OperationalError):
            await job.refresh_once()
        assert job.pending and await _samples(conn) == (4, 0, 0)
        job.database_url = database_url       # the database is back
        await job.refresh_once()
        assert await _samples(conn) == (4, 4, 4)
