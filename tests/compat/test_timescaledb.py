"""The schema on a real TimescaleDB (PGlite + TimescaleDB 2.23): the ``*.tsdb.sql`` migrations apply, ``points`` is a
hypertable with compression and retention, the rollups are continuous aggregates, and the policies really run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from forecourt.migrations import discover, migrate
from telemetry import queries
from telemetry.records import MetricDef, PointRow
from telemetry.storage.repository import TelemetryWriter

pytestmark = pytest.mark.integration


def test_the_timescaledb_variants_of_the_migrations_are_applied(timescale_url: str) -> None:
    assert migrate(timescale_url) == []  # a second run applies nothing and finds every checksum unchanged
    with psycopg.connect(timescale_url, autocommit=True) as conn:
        applied = {name for (name,) in conn.execute("SELECT name FROM public.schema_migrations")}
        version = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'").fetchone()
    assert version is not None and version[0].startswith("2.")
    assert {"0002_points_hypertable.tsdb.sql", "0003_rollups.tsdb.sql"} <= applied
    assert "0003_rollups.plain.sql" not in applied
    assert applied == {m.path.name for m in discover() if not m.needs_plain}


def test_points_is_a_hypertable_by_day_with_compression_and_retention(timescale_url: str) -> None:
    with psycopg.connect(timescale_url, autocommit=True) as conn:
        hypertables = conn.execute(
            "SELECT hypertable_schema, hypertable_name, compression_enabled FROM timescaledb_information.hypertables "
            "WHERE hypertable_name = 'points'").fetchall()
        dimension = conn.execute("SELECT column_name, time_interval FROM timescaledb_information.dimensions "
                                 "WHERE hypertable_schema = 'telemetry' AND hypertable_name = 'points'").fetchall()
        settings = conn.execute(
            "SELECT attname, segmentby_column_index, orderby_column_index, orderby_asc "
            "FROM timescaledb_information.compression_settings "
            "WHERE hypertable_schema = 'telemetry' AND hypertable_name = 'points' ORDER BY attname").fetchall()
        policies = conn.execute(
            "SELECT proc_name, config FROM timescaledb_information.jobs "
            "WHERE hypertable_schema = 'telemetry' AND hypertable_name = 'points' ORDER BY proc_name").fetchall()
    assert hypertables == [("telemetry", "points", True)]
    assert dimension == [("ts", timedelta(days=1))]
    assert settings == [("metric_id", 1, None, None), ("ts", None, 1, False)]  # segment by metric, newest first
    assert [(proc, config.get("compress_after") or config.get("drop_after")) for proc, config in policies] == [
        ("policy_compression", "7 days"), ("policy_retention", "400 days")]


def test_the_rollups_are_continuous_aggregates_with_refresh_policies(timescale_url: str) -> None:
    with psycopg.connect(timescale_url, autocommit=True) as conn:
        views = conn.execute("SELECT view_name, materialized_only FROM timescaledb_information.continuous_aggregates "
                             "WHERE view_schema = 'telemetry' ORDER BY view_name").fetchall()
        jobs = conn.execute(
            "SELECT hypertable_name, proc_name, schedule_interval, config FROM timescaledb_information.jobs "
            "WHERE hypertable_schema = 'telemetry' AND hypertable_name LIKE 'points\\_1_' "
            "ORDER BY hypertable_name, proc_name").fetchall()
        columns = conn.execute(
            "SELECT table_name, string_agg(column_name, ',' ORDER BY ordinal_position) FROM information_schema.columns "
            "WHERE table_schema = 'telemetry' AND table_name IN ('points_1m', 'points_1h') GROUP BY table_name "
            "ORDER BY table_name").fetchall()
    assert [name for name, _ in views] == ["points_1h", "points_1m"]
    refresh = {name: (config["end_offset"], "start_offset" in config)
               for name, proc, _, config in jobs if proc == "policy_refresh_continuous_aggregate"}
    assert refresh == {"points_1m": ("00:01:00", True), "points_1h": ("01:00:00", True)}  # one bucket short of now
    assert ("points_1m", "policy_retention") in {(name, proc) for name, proc, _, _ in jobs}
    same_columns = "metric_id,bucket,min_value,max_value,avg_value,last_value,samples"
    assert columns == [("points_1h", same_columns), ("points_1m", same_columns)]  # what the plain tables have


_JOB = ("SELECT job_id FROM timescaledb_information.jobs WHERE proc_name = %s AND hypertable_schema = 'telemetry' "
        "AND hypertable_name = %s")


def _job(conn: psycopg.Connection, proc: str, table: str) -> int:
    row = conn.execute(_JOB, (proc, table)).fetchone()
    assert row is not None, f"no {proc} job on telemetry.{table}"
    return int(row[0])


def _compressed(conn: psycopg.Connection, ts: datetime) -> bool | None:
    """Whether the chunk of points that holds ``ts`` is compressed; None when there is no such chunk."""
    row = conn.execute("SELECT is_compressed FROM timescaledb_information.chunks "
                       "WHERE hypertable_schema = 'telemetry' AND hypertable_name = 'points' "
                       "AND range_start <= %s AND %s < range_end", (ts, ts)).fetchone()
    return None if row is None else bool(row[0])


async def test_the_policies_drop_compress_and_refresh_when_their_jobs_run(timescale_url: str) -> None:
    """Without a background worker in PGlite the jobs are run by hand (``CALL run_job``), as the scheduler would."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    ancient, old, recent = now - timedelta(days=500), now - timedelta(days=10), now - timedelta(minutes=30)
    writer = TelemetryWriter()
    async with await psycopg.AsyncConnection.connect(timescale_url, autocommit=True) as conn, conn.transaction():
        await writer.metric_ids(conn, [MetricDef("g", "pol-01", "tank-1", "tank1/volume", "DOUBLE", "L")])
        await writer.write_points(conn, [
            PointRow("pol-01", "tank-1", "tank1/volume", ts, value, None, "good", None, False)
            for ts, value in ((ancient, 1.0), (old, 2.0), (recent, 3.0))])
    with psycopg.connect(timescale_url, autocommit=True) as sync:
        assert (_compressed(sync, ancient), _compressed(sync, old), _compressed(sync, recent)) == (False, False, False)
        sync.execute("CALL run_job(%s)", (_job(sync, "policy_retention", "points"),))
        sync.execute("CALL run_job(%s)", (_job(sync, "policy_compression", "points"),))
        sync.execute("CALL run_job(%s)", (_job(sync, "policy_refresh_continuous_aggregate", "points_1m"),))
        assert _compressed(sync, ancient) is None      # older than 400 days: its chunk is dropped
        assert _compressed(sync, old) is True          # older than 7 days: compressed
        assert _compressed(sync, recent) is False
    async with await psycopg.AsyncConnection.connect(timescale_url, autocommit=True) as conn:
        _, raw = await queries.history(conn, "pol-01", "tank-1", "tank1/volume", ancient, now, "raw")
        _, per_minute = await queries.history(conn, "pol-01", "tank-1", "tank1/volume", now - timedelta(hours=2), now,
                                              "1m")
    assert [(p.ts, p.value) for p in raw] == [(old, 2.0), (recent, 3.0)]  # the compressed one still reads back
    assert [(p.ts, p.value, p.samples) for p in per_minute] == [(recent, 3.0, 1)]  # materialised by the policy


async def test_a_point_forwarded_after_the_refresh_window_still_reaches_the_minute_rollup(timescale_url: str) -> None:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    late = now - timedelta(hours=5)
    writer = TelemetryWriter()
    async with await psycopg.AsyncConnection.connect(timescale_url, autocommit=True) as conn:
        async with conn.transaction():
            await writer.metric_ids(conn, [MetricDef("g", "late-01", "tank-1", "tank1/volume", "DOUBLE", "L")])
            await writer.write_points(conn, [PointRow("late-01", "tank-1", "tank1/volume", late, 7.0, None, "good",
                                                      None, True)])         # store-and-forwarded, 5 hours late
        job = await (await conn.execute(_JOB, ("policy_refresh_continuous_aggregate", "points_1m"))).fetchone()
        assert job is not None
        await conn.execute("CALL run_job(%s)", job)
        _, per_minute = await queries.history(conn, "late-01", "tank-1", "tank1/volume", late, now, "1m")
    assert [(p.ts, p.value) for p in per_minute] == [(late, 7.0)]



async def test_the_hourly_rollup_holds_the_current_hour_once_the_policy_ran(timescale_url: str) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    recent = now - timedelta(minutes=2)
    writer = TelemetryWriter()
    async with await psycopg.AsyncConnection.connect(timescale_url, autocommit=True) as conn:
        async with conn.transaction():
            await writer.metric_ids(conn, [MetricDef("g", "now-01", "tank-1", "tank1/volume", "DOUBLE", "L")])
            await writer.write_points(conn, [PointRow("now-01", "tank-1", "tank1/volume", recent, 9.0, None, "good",
                                                      None, False)])
        job = await (await conn.execute(_JOB, ("policy_refresh_continuous_aggregate", "points_1h"))).fetchone()
        assert job is not None
        await conn.execute("CALL run_job(%s)", job)
        _, hourly = await queries.history(conn, "now-01", "tank-1", "tank1/volume", now - timedelta(hours=3), now,
                                          "1h")
    assert [(p.value, p.samples) for p in hourly] == [(9.0, 1)]
