"""Steering a running scenario over its control port, every fault injected and cleared, and the CLI."""

from __future__ import annotations

import asyncio
import io
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from simulators.scenario import Scenario, ScenarioConfig, parse_scenario, with_free_ports
from simulators.scenario.fault_table import FAULTS

pytestmark = pytest.mark.integration

DEMO = Path(__file__).resolve().parents[3] / "config" / "scenarios" / "demo-station.yaml"


def quiet_station() -> dict[str, Any]:
    """The demo station without its own traffic and faults: only what the test sends happens."""
    raw = yaml.safe_load(DEMO.read_text(encoding="utf-8"))
    raw["devices"].pop("cameras")
    raw["devices"].pop("gas_skid")
    raw["traffic"] = {"fuel": {"cars_per_hour": 0}}
    raw["faults"] = []
    return raw


def config() -> ScenarioConfig:
    return with_free_ports(parse_scenario(quiet_station()))


class Client:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def ask(self, line: str) -> list[str]:
        """Send one command; the answer lines up to and including the final ``ok`` / ``error: …``."""
        self.writer.write(line.encode() + b"\n")
        await self.writer.drain()
        lines = []
        while True:
            raw = await asyncio.wait_for(self.reader.readline(), 10)
            assert raw, "connection closed"
            lines.append(raw.decode().rstrip("\n"))
            if lines[-1] == "ok" or lines[-1].startswith("error"):
                return lines


async def refused(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return True
    writer.close()
    return False


async def test_commands_send_customers_inject_faults_and_stop_the_run() -> None:
    async with Scenario(config(), speed=1000, out=io.StringIO()) as scenario:
        assert scenario.control is not None
        running = asyncio.create_task(scenario.run(None))  # until told to stop
        client = Client(*await asyncio.open_connection("127.0.0.1", scenario.control.port))

        status = await client.ask("status")
        assert status[-1] == "ok" and status[0].startswith("时间 time")
        assert any(line.startswith("fuel disp-01/1") for line in status)

        assert (await client.ask("car 95 volume"))[-1] == "ok"
        assert (await client.ask("ev"))[-1] == "ok"
        assert (await client.ask("delivery tank-1 3000"))[-1] == "ok"
        for _ in range(200):  # a car: pull in, 10-40 L, pay — a few simulated minutes
            await asyncio.sleep(0.05)
            if scenario.tally.cars.served and scenario.tally.deliveries:
                break
        assert scenario.tally.cars.served == 1 and scenario.tally.volume_cl[95] > 0
        assert scenario.tally.deliveries == 1 and scenario.tally.evs.arrived == 1

        port = scenario.station.dispenser("disp-02").port
        answer = await client.ask("fault disp-02 offline 01:00:00")
        assert answer[-1] == "ok" and "injected" in answer[0]
        assert await refused(port)
        assert (await client.ask("faults"))[0].startswith("disp-02 offline since")
        assert (await client.ask("fault disp-02 melt"))[-1].startswith("error: unknown fault")
        assert (await client.ask("fault tank-9 leak"))[-1].startswith("error: no device 'tank-9'")
        assert (await client.ask("clear disp-02"))[0].endswith("cleared 1")
        assert not await refused(port)
        assert (await client.ask("nonsense"))[-1].startswith("error: unknown command")

        assert (await client.ask("stop"))[-1] == "ok"
        tally = await asyncio.wait_for(running, 30)
        assert [(f.device, f.fault, f.source) for f in tally.faults] == [("disp-02", "offline", "command")]
        client.writer.write(b"quit\n")
        assert (await client.reader.readline()) == b"ok\n"


def test_forecourt_sim_station_runs_a_file_and_reports_a_bad_one(tmp_path: Path) -> None:
    raw = quiet_station()
    raw["traffic"] = {"fuel": {"cars_per_hour": 240}}
    raw["simulation"].update(control_port=None, speed=2000)
    for dispenser in raw["devices"]["dispensers"]:
        dispenser["port"] = 0
    raw["devices"]["tank_gauge"].update(tcp_port=0, serial=False)
    raw["devices"]["gas_detectors"][0]["port"] = 0
    good = tmp_path / "station.yaml"
    good.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "forecourt.cli", "sim", "station", str(good), "--duration", "600", "--seed", "3"],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "结束汇总 final" in done.stdout and "加油完成" in done.stdout and "seed 3" in done.stdout

    raw["traffic"]["fuel"]["grade_mix"] = {98: 1.0}
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    refused_run = subprocess.run(
        [sys.executable, "-m", "forecourt.cli", "sim", "station", str(bad)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert refused_run.returncode == 2
    assert "traffic.fuel.grade_mix: grade 98 is not in station.grades" in refused_run.stderr


async def test_every_fault_in_the_table_can_be_injected_and_cleared(tmp_path: Path) -> None:
    raw = yaml.safe_load(DEMO.read_text(encoding="utf-8"))
    raw["devices"]["cameras"]["scenes_dir"] = str(tmp_path)
    raw["faults"] = []
    example = {"dispenser": "disp-01", "tank_gauge": "atg-01", "tank": "tank-2", "gas_skid": "skid-01",
               "detector_line": "lel-line-1", "detector": "lel-02", "charger": "chg-02", "camera": "cam-03"}
    out = io.StringIO()
    async with Scenario(with_free_ports(parse_scenario(raw)), speed=100, out=out) as scenario:
        station = scenario.station
        for fault, kinds in sorted(FAULTS.items()):
            for kind in kinds:
                answer = await scenario.inject_fault(example[kind], fault, None, {})
                assert "injected" in answer, (fault, kind)
                await scenario.clear_faults(None, None)
        assert not scenario.faults.active
        records = scenario.tally.faults
        assert len(records) == sum(len(kinds) for kinds in FAULTS.values())
        assert all(r.cleared_s is not None for r in records)
        # all repaired: the equipment answers and serves again
        assert station.dispenser("disp-01").model.powered and station.dispenser("disp-01").faults.delay_ms == 0
        assert station.gauge is not None and not station.gauge.line_faults.offline
        assert all(not tank.probe_out and not tank.stuck_level and tank.leak_l_h == 0
                   for tank in station.gauge.console.tanks.values())
        assert station.skid is not None and station.skid.online and not station.skid.model.sensors.failed
        assert all(scenario.ctx.lanes.free(want) for want in ("92", "95", "10", "cng", "lng", "ev"))
        self_ending = {("atg-01", "bad_checksum"), ("atg-01", "garbage"), ("chg-02", "garbage"), ("lel-02", "leak")}
        assert out.getvalue().count("故障清除") == len(records) - len(self_ending)
