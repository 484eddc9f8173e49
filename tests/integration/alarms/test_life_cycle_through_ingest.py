"""Issue 17, "Done when": each life-cycle transition, the on-delay, the deadband, shelving expiry and suppression
during a delivery, driven through the tank gauge simulator → edge node → broker → IngestWorker → alarm engine.

The simulated tank (30 m³, 15,000 L at start) is emptied by ``draw`` (sales) and filled by a tanker drop
(``start_delivery``) on a manual clock; the rules' limits sit a few centimetres under the starting level.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from simulators.tank_gauge.chart import HorizontalCylinder
from simulators.tank_gauge.config import TankGaugeConfig
from telemetry.alarms import actions
from telemetry.alarms.engine import Where
from telemetry.alarms.model import Action
from telemetry.contracts.broker import BrokerAddress
from tests.integration.alarms.support import STATION, AlarmPath, alarm_path

pytestmark = pytest.mark.integration

_TANK = TankGaugeConfig(tcp_port=0, serial=False).tanks[0]      # the gauge the path starts
H0 = HorizontalCylinder(_TANK.diameter_mm, _TANK.resolved_length_mm).height_mm(_TANK.initial_volume_l)
LIMIT = round(H0 - 50)

LIFE_CYCLE_RULES = f"""
rules:
  - code: t.low
    kind: low
    device: atg-01
    metric: tank1/height
    limit: {LIMIT}
    deadband: 30
    on_delay_s: 2
    priority: medium
    area: 油罐区
    unit: mm
    message: 油罐液位低
"""


async def _drop(path: AlarmPath, mm: float) -> float:
    """Sell ``mm`` millimetres of product; returns the new height (as the simulator has it)."""
    path.gauge.draw(1, mm * path.litres_per_mm())
    return path.gauge.reading(1).height_mm


async def _fill(path: AlarmPath, mm: float) -> float:
    """A tanker drop of ``mm`` millimetres at 600 L/min, the clock moved on until it has flowed."""
    litres = mm * path.litres_per_mm()
    path.gauge.start_delivery(1, litres, 15.0, 600.0)
    path.clock.advance(litres / 10.0 + 2)
    return path.gauge.reading(1).height_mm


async def _act(path: AlarmPath, action: Action, who: str = "zhang", **kwargs: object) -> None:
    alarm = await path.open_alarm("t.low")
    assert alarm is not None
    async with path.conn.transaction():
        await actions.perform(path.conn, "g", alarm[0], action, who, **kwargs)  # type: ignore[arg-type]


async def test_life_cycle_delay_and_deadband_through_the_simulator(database_url: str, broker: BrokerAddress,
                                                                   group: str, tmp_path: Path) -> None:
    async with alarm_path(database_url, broker, group, tmp_path, LIFE_CYCLE_RULES) as path:
        # raised after its on-delay: the first stored point under the limit came ≥ 2 s before the raise
        low = await _drop(path, 80)
        await path.stored_height_near(low)
        await path.until(lambda: path.open_alarm("t.low"), "the low-level alarm")
        first_under, raised_at = await (await path.conn.execute(
            "SELECT (SELECT min(p.ts) FROM telemetry.points p JOIN telemetry.metrics m USING (metric_id) "
            "        WHERE m.name = 'tank1/height' AND p.value <= %s), "
            "(SELECT at FROM alarms.journal WHERE rule = 't.low' AND seq = 1)", (LIMIT,))).fetchone()  # type: ignore[misc]
        assert (raised_at - first_under).total_seconds() >= 2.0
        assert (await path.open_alarm("t.low"))[1:] == ("unacknowledged", True)  # type: ignore[index]

        await _act(path, Action.ACKNOWLEDGE, comment="已通知补油")
        assert (await path.open_alarm("t.low"))[1] == "acknowledged"  # type: ignore[index]

        # back up 40 mm: above the limit but inside its 30 mm deadband, so the alarm stays
        inside = await _fill(path, 40)
        assert LIMIT < inside < LIMIT + 30
        await path.stored_height_near(inside)
        await path.until(lambda: _engine_caught_up(path), "the engine to evaluate the new level")
        assert await path.types("t.low") == ["alarm.raised", "alarm.acknowledged"]

        # past the deadband: returns to normal (it was acknowledged), the occurrence closes
        await path.stored_height_near(await _fill(path, 40))
        await path.until(lambda: _closed(path), "the return to normal")
        assert await path.journal("t.low") == [
            ("alarm.raised", "normal", "unacknowledged", "t.low"),
            ("alarm.acknowledged", "unacknowledged", "acknowledged", "t.low"),
            ("alarm.returned", "acknowledged", "normal", "t.low")]

        # a second occurrence returns before anyone acknowledges it, then is acknowledged
        await path.stored_height_near(await _drop(path, 80))
        await path.until(lambda: path.open_alarm("t.low"), "the second occurrence")
        await path.stored_height_near(await _fill(path, 80))
        await path.until(lambda: _state(path, "returned_unacknowledged"), "return to normal unacknowledged")
        await _act(path, Action.ACKNOWLEDGE, who="li")
        assert await path.open_alarm("t.low") is None

        # a third: shelved for 2 s, it comes back unacknowledged by itself while the level is still low
        await path.stored_height_near(await _drop(path, 80))
        await path.until(lambda: path.open_alarm("t.low"), "the third occurrence")
        await _act(path, Action.SHELVE, who="wang", comment="液位仪校准", shelve_for=timedelta(seconds=2))
        assert (await path.open_alarm("t.low"))[1] == "shelved"  # type: ignore[index]
        await path.until(lambda: _state(path, "unacknowledged"), "the shelving's expiry")
        # out of service for maintenance and back: annunciated again since the level is still low
        await _act(path, Action.OUT_OF_SERVICE, comment="更换探棒")
        assert (await path.open_alarm("t.low"))[1] == "out_of_service"  # type: ignore[index]
        await _act(path, Action.IN_SERVICE)
        assert (await path.open_alarm("t.low"))[1] == "unacknowledged"  # type: ignore[index]

        journal = await path.journal("t.low")
        assert [t for t, *_ in journal[3:]] == [
            "alarm.raised", "alarm.returned", "alarm.acknowledged",
            "alarm.raised", "alarm.shelved", "alarm.unshelved", "alarm.out_of_service", "alarm.in_service"]
        row = await (await path.conn.execute(
            "SELECT by_user, comment FROM alarms.journal WHERE event_type = 'alarm.shelved'")).fetchone()
        assert row == ("wang", "液位仪校准")
        # every transition is one outbox event, its id from (alarm_id, seq)
        outbox = await (await path.conn.execute(
            "SELECT count(*), count(DISTINCT event_id), min(topic) FROM alarms.outbox")).fetchone()
        assert outbox is not None and outbox[0] == outbox[1] == len(journal)
        assert outbox[2].startswith(f"forecourt/v1/{group}/{STATION}/events/alarm.")


async def _engine_caught_up(path: AlarmPath) -> bool:
    before = path.engines[0].evaluations
    await path.until(lambda: _more(path, before + 3), "three more evaluations")
    return True


async def _more(path: AlarmPath, n: int) -> bool:
    return path.engines[0].evaluations >= n


async def _closed(path: AlarmPath) -> bool:
    return await path.open_alarm("t.low") is None


async def _state(path: AlarmPath, state: str) -> bool:
    alarm = await path.open_alarm("t.low")
    return alarm is not None and alarm[1] == state


SUPPRESSION_RULES = f"""
rules:
  - code: s.low
    kind: low
    device: atg-01
    metric: tank1/height
    limit: {LIMIT}
    priority: medium
    during: [delivery]
  - code: s.rise
    kind: rate
    device: atg-01
    metric: tank1/height
    limit: 20
    window_s: 1
    priority: high
    during: [delivery]
  - code: s.rise.unsuppressed
    kind: rate
    device: atg-01
    metric: tank1/height
    limit: 20
    window_s: 1
    priority: low
  - code: s.probe
    kind: bad_quality
    device: atg-01
    metric: tank1/height
    priority: high
"""


async def test_suppression_during_a_delivery_and_a_probe_out(database_url: str, broker: BrokerAddress,
                                                             group: str, tmp_path: Path) -> None:
    async with alarm_path(database_url, broker, group, tmp_path, SUPPRESSION_RULES) as path:
        await path.stored_height_near(await _drop(path, 80))
        await path.until(lambda: _raised(path, "s.low"), "the low level before the delivery")

        # a tanker drop: the level rises fast while the gauge says a delivery is in progress
        litres = 160 * path.litres_per_mm()
        path.gauge.start_delivery(1, litres, 15.0, 600.0)
        for _ in range(40):
            path.clock.advance(litres / 10.0 / 40)
            await path.until(lambda: _any_new_point(path), "a new height")
        await path.until(lambda: _raised(path, "s.rise.unsuppressed"), "the same rise without suppression")
        await path.until(lambda: _types_are(path, "s.low", ["alarm.raised", "alarm.suppressed"]),
                         "the low-level alarm suppressed by the delivery")
        assert await path.types("s.rise") == []

        # the drop settles and ends: the low level is gone, so the suppressed alarm closes
        path.clock.advance(1000)
        await path.until(lambda: _types_are(path, "s.low", ["alarm.raised", "alarm.suppressed",
                                                            "alarm.unsuppressed"]), "the end of the delivery")
        row = await (await path.conn.execute(
            "SELECT state_to FROM alarms.journal WHERE rule = 's.low' AND event_type = 'alarm.unsuppressed'"
        )).fetchone()
        assert row == ("normal",)
        assert await path.types("s.rise") == []

        # the probe comes out: every height reading is bad quality
        path.gauge.faults.probe_out(1)
        await path.until(lambda: _raised(path, "s.probe"), "the probe-out alarm")


async def _raised(path: AlarmPath, rule: str) -> bool:
    return "alarm.raised" in await path.types(rule)


async def _types_are(path: AlarmPath, rule: str, expected: list[str]) -> bool:
    return await path.types(rule) == expected


_SEEN: dict[int, object] = {}


async def _any_new_point(path: AlarmPath) -> bool:
    row = await (await path.conn.execute("SELECT max(ts) FROM telemetry.points")).fetchone()
    key = id(path)
    newest = row[0] if row else None
    if _SEEN.get(key) == newest:
        return False
    _SEEN[key] = newest
    return True



COMM_RULES = """
rules:
  - code: c.comm
    kind: comm_loss
    device: "atg-*"
    on_delay_s: 1
    off_delay_s: 1
    priority: medium
"""


async def test_comm_loss_when_the_gauge_stops_answering(database_url: str, broker: BrokerAddress, group: str,
                                                        tmp_path: Path) -> None:
    async with alarm_path(database_url, broker, group, tmp_path, COMM_RULES) as path:
        await path.until(lambda: _engine_caught_up(path), "the engine to evaluate a healthy gauge")
        assert await path.types("c.comm") == []
        path.gauge.faults.offline(True)          # the edge reports every point bad, reason comm-loss
        await path.until(lambda: _raised(path, "c.comm"), "the comm-loss alarm")
        alarm = await path.open_alarm("c.comm")
        assert alarm is not None
        source = await (await path.conn.execute("SELECT source FROM alarms.alarms WHERE rule = 'c.comm'")).fetchone()
        assert source == ("atg-01",)
        path.gauge.faults.offline(False)
        await path.until(lambda: _types_are(path, "c.comm", ["alarm.raised", "alarm.returned"]),
                         "the return when the gauge answers again")


SPLIT_RULES = f"""
rules:
  - code: h.low
    kind: low
    device: atg-01
    metric: tank1/height
    limit: {LIMIT}
    priority: medium
  - code: h.uplink
    kind: comm_loss
    device: ""
    limit: 2            # seconds without data from the station
    priority: high
"""


async def test_head_office_evaluates_only_the_uplink_of_a_station_with_a_server(
        database_url: str, broker: BrokerAddress, group: str, tmp_path: Path) -> None:
    head_office = Where(role="head-office", station_servers=frozenset({STATION}))
    async with alarm_path(database_url, broker, group, tmp_path, SPLIT_RULES, where=head_office) as path:
        await path.stored_height_near(await _drop(path, 80))
        await path.until(lambda: _engine_caught_up(path), "head office's engine to see the low level")
        assert await path.types("h.low") == []            # the station server's to raise, not head office's
        await path.stop_edge()
        await path.until(lambda: _raised(path, "h.uplink"), "the uplink alarm after 2 s of silence")
        source = await (await path.conn.execute("SELECT source FROM alarms.alarms WHERE rule = 'h.uplink'")).fetchone()
        assert source == (STATION,)
