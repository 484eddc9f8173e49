"""One simulated hour of the demo station (free ports, 900x): sales, meters, tanks, faults, cameras.

The run happens once for the module; while it runs a probe reads disp-02 over Modbus TCP and
samples what the cameras show. The real time taken is printed, never asserted.
"""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from simulators.camera.frames import empty_lane_jpeg
from simulators.dispenser.states import BufferState, EndReason
from simulators.dispenser.transactions import Transaction
from simulators.scenario import Scenario, ScenarioConfig, Tally, parse_scenario, with_free_ports

pytestmark = pytest.mark.integration

DEMO = Path(__file__).resolve().parents[3] / "config" / "scenarios" / "demo-station.yaml"
SPEED = 900.0
OFFLINE = (600.0, 1200.0)  # disp-02 refuses connections from 00:10 to 00:20


def hour_variant(scenes: Path) -> ScenarioConfig:
    """The demo station with tanks at ground temperature (no drift), no tankers, and the faults under test."""
    raw = yaml.safe_load(DEMO.read_text(encoding="utf-8"))
    for tank in raw["devices"]["tank_gauge"]["tanks"]:
        tank["temperature_c"] = tank["ground_temperature_c"] = 16.0
    raw["traffic"]["deliveries"] = []
    raw["traffic"].pop("reorder")
    raw["devices"]["cameras"]["scenes_dir"] = str(scenes)
    raw["faults"] = [
        {"at": OFFLINE[0], "device": "disp-02", "fault": "offline", "duration": OFFLINE[1] - OFFLINE[0]},
        {"at": "00:25:00", "device": "disp-01", "fault": "power_loss", "args": {"during_fuelling": True},
         "duration": 120},
        {"at": "00:40:00", "device": "chg-02", "fault": "charger_fault", "args": {"connector": 2}, "duration": 300},
    ]
    return with_free_ports(parse_scenario(raw))


@dataclass
class HourRun:
    tally: Tally
    output: str
    real_s: float
    totalizers: tuple[dict[tuple[str, int, int], int], dict[tuple[str, int, int], int]]
    nozzle_grades: dict[tuple[str, int, int], int]
    true_litres: dict[int, float]  # by grade: what really left through the nozzles
    tanks: tuple[dict[int, float], dict[int, float]]
    gauge_shows: dict[int, float]
    grade_tank: dict[int, int]
    buffers: dict[tuple[str, int], tuple[Transaction, ...]]
    probes: list[tuple[float, float, bool]] = field(default_factory=list)
    camera_samples: list[tuple[bool, bool]] = field(default_factory=list)


async def answers(port: int) -> bool:
    client = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=0.3, retries=0)
    try:
        if not await client.connect():
            return False
        response = await client.read_holding_registers(0, count=3, device_id=1)
        return not response.isError() and list(response.registers)[:2] == [1, 2]
    except (ModbusException, OSError):
        return False
    finally:
        client.close()


async def watch(scenario: Scenario, run: HourRun, done: asyncio.Event) -> None:
    """Probe disp-02 over Modbus and compare each camera with the position it looks at.

    Stops on ``done`` rather than by cancellation: Python 3.11's ``wait_for`` inside the client can
    swallow a cancellation that lands as its connection completes.
    """
    port = scenario.station.dispenser("disp-02").port
    cameras = scenario.station.cameras
    assert cameras is not None
    while not done.is_set():
        for spot in scenario.ctx.lanes.spots:
            if spot.number is not None and spot.number <= 4:
                run.camera_samples.append((spot.occupant is not None, cameras.camera_at(spot.number).scene is not None))
        before = scenario.clock.elapsed()
        ok = await answers(port)
        run.probes.append((before, scenario.clock.elapsed(), ok))
        await asyncio.sleep(0.01)


def nozzle_litres(scenario: Scenario) -> dict[int, float]:
    litres: dict[int, float] = {}
    for server in scenario.station.dispensers.values():
        server.catch_up()
        for fp in server.model.view().fuelling_points:
            for nozzle in fp.nozzles:
                litres[nozzle.grade_id] = litres.get(nozzle.grade_id, 0.0) + nozzle.delivered_total_l
    return litres


async def run_hour(scenes: Path) -> HourRun:
    out = io.StringIO()
    async with Scenario(hour_variant(scenes), speed=SPEED, out=out) as scenario:
        station = scenario.station
        totalizers_before, tanks_before, true_before = station.totalizers_cl(), station.tank_volumes(), \
            nozzle_litres(scenario)
        run = HourRun(Tally(), "", 0.0, ({}, {}), {}, {}, ({}, {}), {}, dict(station.grade_tank), {})
        done = asyncio.Event()
        watcher = asyncio.create_task(watch(scenario, run, done))
        started = time.monotonic()
        run.tally = await scenario.run(3600)
        run.real_s = time.monotonic() - started
        done.set()
        await watcher
        true_after = nozzle_litres(scenario)
        run.totalizers = (totalizers_before, station.totalizers_cl())
        run.tanks = (tanks_before, station.tank_volumes())
        run.true_litres = {grade: true_after[grade] - true_before[grade] for grade in true_after}
        assert station.gauge is not None
        run.gauge_shows = {n: station.gauge.reading(n).volume_l for n in run.tanks[1]}
        for code, server in station.dispensers.items():
            for fp in server.model.view().fuelling_points:
                run.buffers[(code, fp.number)] = server.model.transactions(fp.number)
                for nozzle in fp.nozzles:
                    run.nozzle_grades[(code, fp.number, nozzle.number)] = nozzle.grade_id
    run.output = out.getvalue()
    return run


@pytest.fixture(scope="module")
def hour(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HourRun]:
    scenes = tmp_path_factory.mktemp("scenes")
    (scenes / "car-01.jpg").write_bytes(empty_lane_jpeg("CAR", 1, 64, 64, 50))
    run = asyncio.run(run_hour(scenes))
    print(f"\none simulated hour (+ drain) took {run.real_s:.1f} s real time at speed {SPEED:g}")
    yield run


def test_cars_were_served_and_the_console_told_the_story(hour: HourRun) -> None:
    t = hour.tally
    assert t.cars.served > 25 and t.fills >= t.cars.served - t.cars.refused
    assert t.cars.arrived == t.cars.served + t.cars.left
    assert t.gas.served > 3 and t.gas_kg["cng"] > 10
    assert t.ev_sessions >= 1 and t.ev_wh > 1000
    for text in ("到达", "加油完成", "filled", "付款", "故障注入", "fault injected", "故障清除", "── 汇总 summary",
                 "结束汇总 final", "用时 real"):
        assert text in hour.output, text


def test_dispenser_totalizers_grew_by_exactly_the_litres_sold(hour: HourRun) -> None:
    before, after = hour.totalizers
    grown: dict[int, int] = {}
    for key, grade in hour.nozzle_grades.items():
        grown[grade] = grown.get(grade, 0) + after[key] - before[key]
    assert grown == {grade: hour.tally.volume_cl.get(grade, 0) for grade in grown}
    assert sum(grown.values()) > 50_000  # more than 500 L sold


def test_tanks_fell_by_the_true_litres_the_nozzles_delivered(hour: HourRun) -> None:
    before, after = hour.tanks
    metered_differs = False
    for grade, tank in hour.grade_tank.items():
        true_l = hour.true_litres[grade]
        assert before[tank] - after[tank] == pytest.approx(true_l, abs=0.01)
        assert hour.tally.drawn_l[tank] == pytest.approx(true_l, abs=0.01)
        assert abs(hour.gauge_shows[tank] - after[tank]) < 10  # the gauge sees it, give or take its noise
        metered_differs |= abs(hour.tally.volume_cl[grade] / 100 - true_l) > 0.005
    assert metered_differs  # the meters' error is there for wet-stock reconciliation to find


def test_a_power_loss_left_a_payable_sale_that_was_paid_after_power_returned(hour: HourRun) -> None:
    sales = hour.tally.power_loss_sales
    assert sales, "the power cut hit no fuelling"
    cut = next(f for f in hour.tally.faults if f.fault == "power_loss")
    assert cut.cleared_s == pytest.approx(cut.started_s + 120)
    for sale in sales:
        assert sale.device == "disp-01" and sale.volume_cl >= 500 and sale.payable_during_outage
        assert sale.power_back_s == cut.cleared_s
        assert sale.paid_s is not None and sale.paid_s >= sale.power_back_s
        kept = [t for t in hour.buffers[("disp-01", sale.fuelling_point)] if t.number == sale.transaction]
        for transaction in kept:  # (unless later sales pushed it out of the buffer)
            assert transaction.end_reason is EndReason.POWER_LOST
            assert transaction.buffer_state is BufferState.CLEARED


def test_an_offline_fault_made_the_dispenser_unreachable_for_its_duration(hour: HourRun) -> None:
    record = next(f for f in hour.tally.faults if f.fault == "offline")
    assert (record.started_s, record.cleared_s) == OFFLINE
    start, end = OFFLINE
    during = [ok for a, b, ok in hour.probes if start + 1 < a and b < end - 1]
    outside = [ok for a, b, ok in hour.probes if b < start or a > end + 5]
    assert len(during) >= 3 and not any(during)
    assert len(outside) >= 10 and all(outside)


def test_cameras_show_a_car_exactly_while_one_is_at_the_position(hour: HourRun) -> None:
    assert hour.camera_samples
    assert all(occupied == shown for occupied, shown in hour.camera_samples)
    assert any(occupied for occupied, _ in hour.camera_samples)
