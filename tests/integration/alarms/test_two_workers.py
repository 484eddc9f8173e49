"""Issue 17, "Done when": two alarm workers running together raise each alarm once.

Both engines evaluate the same station (no partition: the overlap is the point) from the same ingest; three
tanks go low together, come back and go low again. Each condition must have exactly one occurrence, each
transition one journal row and one outbox event.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from simulators.tank_gauge.chart import HorizontalCylinder
from simulators.tank_gauge.config import TankConfig, TankGaugeConfig
from telemetry.contracts.broker import BrokerAddress
from tests.integration.alarms.support import AlarmPath, alarm_path

pytestmark = pytest.mark.integration

TANKS = (1, 2, 3)
GAUGE = TankGaugeConfig(tcp_port=0, serial=False, tanks=tuple(TankConfig(number=n) for n in TANKS))  # alike
H0 = HorizontalCylinder(GAUGE.tanks[0].diameter_mm, GAUGE.tanks[0].resolved_length_mm).height_mm(
    GAUGE.tanks[0].initial_volume_l)
RULES = f"""
rules:
  - code: w.low
    kind: low
    device: atg-01
    metric: "tank*/height"
    limit: {round(H0 - 50)}
    priority: medium
  - code: w.low.delayed
    kind: low
    device: atg-01
    metric: "tank*/height"
    limit: {round(H0 - 50)}
    on_delay_s: 0.5
    priority: low
"""


async def _count(path: AlarmPath, sql: str) -> int:
    row = await (await path.conn.execute(sql)).fetchone()
    return int(row[0]) if row else 0


async def test_two_workers_raise_each_alarm_once(database_url: str, broker: BrokerAddress, group: str,
                                                 tmp_path: Path) -> None:
    async with alarm_path(database_url, broker, group, tmp_path, RULES, tanks=TANKS, engines=2,
                          config=GAUGE) as path:
        heights = {}
        for round_no in (1, 2):
            for tank in TANKS:
                path.gauge.draw(tank, 80 * path.litres_per_mm(tank))
                heights[tank] = path.gauge.reading(tank).height_mm

            async def raised(n: int = round_no) -> bool:
                return await _count(path, "SELECT count(*) FROM alarms.journal "
                                          "WHERE event_type = 'alarm.raised'") >= 6 * n
            await path.until(raised, f"six alarms in round {round_no}")
            for tank in TANKS:
                litres = 80 * path.litres_per_mm(tank)
                path.gauge.start_delivery(tank, litres, 15.0, 600.0)
            path.clock.advance(80 * path.litres_per_mm(1) / 10 + 5)

            async def returned(n: int = round_no) -> bool:
                return await _count(path, "SELECT count(*) FROM alarms.journal "
                                          "WHERE event_type = 'alarm.returned'") >= 6 * n
            await path.until(returned, f"six returns in round {round_no}")
        await path.until(lambda: _both_evaluated(path), "both workers to evaluate")

        # never acknowledged, each occurrence returned unacknowledged and came back: one occurrence per condition
        assert await _count(path, "SELECT count(*) FROM alarms.alarms") == 6            # 2 rules × 3 tanks
        assert await _count(path, "SELECT count(*) FROM alarms.alarms WHERE seq = 4 "
                                  "AND state = 'returned_unacknowledged'") == 6
        assert await _count(path, "SELECT count(*) FROM alarms.journal WHERE event_type = 'alarm.raised'") == 12
        assert await _count(path, "SELECT count(*) FROM alarms.journal WHERE event_type = 'alarm.returned'") == 12
        assert await _count(path, "SELECT count(*) FROM (SELECT rule, source, count(*) FROM alarms.alarms "
                                  "GROUP BY 1, 2 HAVING count(*) <> 1) x") == 0
        assert await _count(path, "SELECT count(*) FROM alarms.outbox") == 24
        assert all(w.evaluations > 0 for w in path.engines)


async def _both_evaluated(path: AlarmPath) -> bool:
    return all(w.evaluations > 100 for w in path.engines)
