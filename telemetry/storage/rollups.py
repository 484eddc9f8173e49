"""Rollups at 1 minute and 1 hour on plain PostgreSQL (TimescaleDB keeps them as continuous aggregates).

``refresh`` recomputes the buckets that new points can still change: idempotent, so running it
from several ingest workers or twice over the same window is harmless.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg

ROLLUPS = {"points_1m": "minute", "points_1h": "hour"}


async def is_timescale(conn: psycopg.AsyncConnection) -> bool:
    cur = await conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'")
    return await cur.fetchone() is not None


async def refresh(conn: psycopg.AsyncConnection, since: datetime, until: datetime | None = None) -> None:
    """Recompute every 1 min and 1 h bucket that overlaps [since, until)."""
    for table, unit in ROLLUPS.items():
        start = since.replace(second=0, microsecond=0) if unit == "minute" else since.replace(
            minute=0, second=0, microsecond=0)
        end = until or datetime.max.replace(tzinfo=since.tzinfo)
        await conn.execute(
            f"""INSERT INTO telemetry.{table} AS r (metric_id, bucket, min_value, max_value, avg_value,
                                                   last_value, samples)
                SELECT metric_id, date_trunc('{unit}', ts, 'UTC'), min(value), max(value), avg(value),
                       (array_agg(value ORDER BY ts DESC))[1], count(*)
                FROM telemetry.points WHERE ts >= %s AND ts < %s
                GROUP BY metric_id, date_trunc('{unit}', ts, 'UTC')
                ON CONFLICT (metric_id, bucket) DO UPDATE SET min_value = EXCLUDED.min_value,
                    max_value = EXCLUDED.max_value, avg_value = EXCLUDED.avg_value,
                    last_value = EXCLUDED.last_value, samples = EXCLUDED.samples""",  # noqa: S608 - fixed names
            (start, end))


def window_for(oldest_new_point: datetime) -> datetime:
    """Where a refresh has to start so that late (store-and-forwarded) points land in their buckets."""
    return oldest_new_point - timedelta(minutes=1)
