"""The alert rules' SQL (grafana/alerts.py) runs on a real database and gives one row per matching point, its
latest good value labelled by station, device and metric (what Grafana's threshold is applied to)."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from grafana.alerts import level_rules, query
from telemetry.alarms.rules import RuleSpec, load_file
from tests.unit.grafana.test_grafana_alerts import RULES

pytestmark = pytest.mark.integration

POINTS = [("demo-01", "lel-01", "concentration", 55.0, "good"), ("demo-02", "lel-01", "concentration", 3.0, "good"),
          ("demo-01", "lel-02", "concentration", 99.0, "bad"), ("demo-01", "atg-1", "tank1/height", 250.0, "good"),
          ("demo-01", "atg-1", "tank1/water", 9.0, "good")]


async def test_each_alert_query_returns_the_latest_good_values_it_watches(database_url: str, tmp_path: Path) -> None:
    path = tmp_path / "alarm-rules.yaml"
    path.write_text(RULES, encoding="utf-8")
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        for station, device, name, value, quality in POINTS:
            cur = await conn.execute("INSERT INTO telemetry.metrics (grp, station, device, name, datatype) "
                                     "VALUES ('demo-co', %s, %s, %s, 'Float') RETURNING metric_id",
                                     (station, device, name))
            metric_id = (await cur.fetchone() or [0])[0]
            await conn.execute("INSERT INTO telemetry.latest (metric_id, ts, value, quality) "
                               "VALUES (%s, now(), %s, %s)", (metric_id, value, quality))
        low, gas = level_rules(load_file(path))
        one_station = RuleSpec(code="y", kind="high", priority="high", station="demo-02", device="lel-0[1-2]",
                               metric="concentration", limit=1)
        gas_rows = await (await conn.execute(query(gas))).fetchall()    # type: ignore[arg-type]
        low_rows = await (await conn.execute(query(low))).fetchall()    # type: ignore[arg-type]
        station_rows = await (await conn.execute(query(one_station))).fetchall()    # type: ignore[arg-type]
    assert sorted(gas_rows) == [("demo-01", "lel-01", "concentration", 55.0),
                                ("demo-02", "lel-01", "concentration", 3.0)]   # the bad 99 is not a value
    assert low_rows == [("demo-01", "atg-1", "tank1/height", 250.0)]
    assert station_rows == [("demo-02", "lel-01", "concentration", 3.0)]
