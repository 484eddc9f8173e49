"""History and chart queries: resolution chosen from the range, at most N points, same answers from rollups."""

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from telemetry import queries
from telemetry.records import MetricDef, PointRow
from telemetry.storage import rollups
from telemetry.storage.repository import TelemetryWriter

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(("hours", "expected"), [(1, "raw"), (6, "raw"), (7, "1m"), (24 * 7, "1m"), (24 * 8, "1h")])
def test_resolution_follows_the_range(hours: int, expected: str) -> None:
    assert queries.resolution_for(T0, T0 + timedelta(hours=hours)) == expected


async def test_history_and_downsampling_over_a_day_of_points(database_url: str) -> None:
    writer = TelemetryWriter()
    points = [PointRow("st", "tank-1", "tank1/volume", T0 + timedelta(minutes=5 * i), float(i), None, "good", None,
                       False) for i in range(288)]            # one day, every 5 minutes
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        async with conn.transaction():
            await writer.metric_ids(conn, [MetricDef("g", "st", "tank-1", "tank1/volume", "DOUBLE", "L")])
            await writer.write_points(conn, points)
            await rollups.refresh(conn, T0)
        res, raw = await queries.history(conn, "st", "tank-1", "tank1/volume", T0, T0 + timedelta(hours=2))
        assert res == "raw" and [p.value for p in raw] == [float(i) for i in range(24)]
        res, per_minute = await queries.history(conn, "st", "tank-1", "tank1/volume", T0, T0 + timedelta(days=1))
        assert res == "1m" and len(per_minute) == 288
        chart = await queries.downsampled(conn, "st", "tank-1", "tank1/volume", T0, T0 + timedelta(days=1), 24)
        assert len(chart) == 24
        assert chart[0].min == 0.0 and chart[0].max == 11.0 and chart[0].samples == 12
        assert chart[0].value == pytest.approx(5.5) and chart[-1].last == 287.0
        with pytest.raises(ValueError, match="max_points"):
            await queries.downsampled(conn, "st", "tank-1", "tank1/volume", T0, T0, 10)
