"""The write path's SQL: a (metric, source time) is stored once, whether repeated inside a batch or redelivered."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest

from telemetry.records import MetricDef, PointRow
from telemetry.storage.repository import TelemetryWriter

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


async def test_a_repeat_inside_a_batch_and_a_redelivered_batch_store_each_point_once(database_url: str) -> None:
    writer = TelemetryWriter()
    rows = [PointRow("st", "tank-1", "tank1/volume", T0, 1.0, None, "good", None, False),
            PointRow("st", "tank-1", "tank1/volume", T0, 1.0, None, "good", None, False),
            PointRow("st", "tank-1", "tank1/state", T0, None, "idle", "good", None, False)]
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        async with conn.transaction():
            await writer.metric_ids(conn, [MetricDef("g", "st", "tank-1", "tank1/volume", "DOUBLE", "L"),
                                           MetricDef("g", "st", "tank-1", "tank1/state", "STRING", None)])
            assert await writer.write_points(conn, rows) == 2
        async with conn.transaction():
            assert await writer.write_points(conn, rows) == 0           # redelivered: nothing new
        stored = await (await conn.execute(
            "SELECT m.name, p.value, p.value_text FROM telemetry.points p JOIN telemetry.metrics m USING (metric_id) "
            "ORDER BY m.name")).fetchall()
        latest = await (await conn.execute("SELECT count(*) FROM telemetry.latest")).fetchone()
    assert stored == [("tank1/state", None, "idle"), ("tank1/volume", 1.0, None)]
    assert latest == (2,)
