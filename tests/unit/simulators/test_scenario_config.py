"""The scenario file: the demo loads, and every mistake is reported with the key that holds it."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from simulators.scenario import ScenarioConfigError, load_scenario, parse_scenario, with_free_ports
from simulators.scenario.fault_table import FAULTS, KINDS, check_fault
from simulators.scenario.faults import ACTIONS
from simulators.scenario.loading import with_overrides
from simulators.scenario.timing import format_clock, parse_seconds

DEMO = Path(__file__).resolve().parents[3] / "config" / "scenarios" / "demo-station.yaml"
RAW: dict[str, Any] = yaml.safe_load(DEMO.read_text(encoding="utf-8"))


def changed(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    raw = copy.deepcopy(RAW)
    change(raw)
    return raw


def test_the_demo_station_loads_with_its_positions_and_fault_targets() -> None:
    config = load_scenario(DEMO)
    assert config.station.code == "demo-01" and config.simulation.speed == 120
    positions = config.positions()
    assert [(p.number, p.kind, p.device, p.point) for p in positions[:5]] == [
        (1, "fuel", "disp-01", 1), (2, "fuel", "disp-01", 2), (3, "fuel", "disp-02", 1), (4, "fuel", "disp-02", 2),
        (5, "cng", "skid-01", 1),
    ]
    targets = config.targets()
    assert targets["tank-3"] == "tank" and targets["lel-01"] == "detector" and targets["lel-line-1/2"] == "detector"
    assert targets["chg-02"] == "charger" and targets["atg-01"] == "tank_gauge" and targets["cam-01"] == "camera"
    assert config.faults[0].at == 300 and config.faults[0].duration == 120
    assert config.start().utcoffset() is not None and config.start().astimezone(config.start().tzinfo).hour == 23


def test_free_ports_and_command_line_overrides() -> None:
    config = with_free_ports(load_scenario(DEMO))
    assert {d.port for d in config.devices.dispensers} == {0}
    assert config.devices.tank_gauge is not None and config.devices.tank_gauge.tcp_port == 0
    assert not config.devices.tank_gauge.serial and config.simulation.control_port == 0
    faster = with_overrides(config, speed=900, seed=5)
    assert (faster.simulation.speed, faster.simulation.seed) == (900, 5)
    with pytest.raises(ScenarioConfigError, match="--speed"):
        with_overrides(config, speed=0)


@pytest.mark.parametrize(("change", "message"), [
    (lambda r: r["traffic"]["fuel"].update(carz_per_hour=3), r"traffic\.fuel\.carz_per_hour: unknown key"),
    (lambda r: r.pop("station"), r"station: required key is missing"),
    (lambda r: r["devices"]["dispensers"][0]["fuelling_points"][0]["nozzles"][0].update(price_fen=800),
     r"devices\.dispensers\.0\.fuelling_points\.0\.nozzles\.0\.price_fen: prices are set per grade"),
    (lambda r: r["devices"]["dispensers"][1]["fuelling_points"][1]["nozzles"][0].update(grade_id=98),
     r"devices\.dispensers\.1\.fuelling_points\.1\.nozzles\.0\.grade_id: grade 98 is not in station\.grades"),
    (lambda r: r["station"]["grades"][1].update(tank=7), r"station\.grades\.1\.tank: no tank 7"),
    (lambda r: r["station"]["grades"][0].update(price_fen=0), r"station\.grades\.0\.price_fen"),
    (lambda r: r["faults"][0].update(device="disp-09"), r"faults\.0\.device: no device 'disp-09'"),
    (lambda r: r["faults"][0].update(fault="melt"), r"faults\.0\.fault: unknown fault 'melt'"),
    (lambda r: r["faults"][0].update(device="cam-01"), r"faults\.0: a camera does not take fault 'slow'"),
    (lambda r: r["faults"][0].update(args={"delay": 5}), r"faults\.0: fault 'slow' on a dispenser takes arguments"),
    (lambda r: r["faults"][0].update(at="00:75:00"), r"faults\.0\.at: expected 'HH:MM:SS'"),
    (lambda r: r["traffic"]["fuel"].update(cars_per_hour=[1] * 23), r"cars_per_hour: expected 24 hourly rates"),
    (lambda r: r["traffic"]["fuel"].update(cars_per_hour={25: 3}), r"cars_per_hour: expected an hour 0\.\.23"),
    (lambda r: r["traffic"]["fuel"].update(grade_mix={93: 1}), r"traffic\.fuel\.grade_mix: grade 93"),
    (lambda r: r["traffic"]["fuel"].update(full_l=[50, 20]), r"traffic\.fuel: full_l: expected \(low, high\)"),
    (lambda r: r["traffic"]["deliveries"][0].update(tank=9), r"traffic\.deliveries\.0\.tank: no tank 9"),
    (lambda r: r["devices"].update(chargers=[]), r"traffic\.ev: traffic here needs devices\.chargers"),
    (lambda r: r["devices"].update(gas_skid=None), r"traffic\.cng: traffic here needs devices\.gas_skid"),
    (lambda r: r["devices"]["cameras"]["cameras"][0].update(fuelling_point=12),
     r"devices\.cameras\.cameras\.0\.fuelling_point: the station has 7 positions"),
    (lambda r: r["devices"]["dispensers"][1].update(code="disp-01"), r"the code 'disp-01' names two devices"),
    (lambda r: r["devices"].update(csms_url="http://csms"), r"devices\.csms_url: expected ws://"),
    (lambda r: r["station"].update(timezone="Mars/Olympus"), r"station\.timezone: unknown time zone"),
    (lambda r: r["simulation"].update(speed=-1), r"simulation\.speed"),
    (lambda r: r["devices"]["gas_skid"].update(compresor={}), r"devices\.gas_skid\.compresor: unknown key"),
])
def test_a_wrong_file_names_the_key(change: Callable[[dict[str, Any]], None], message: str) -> None:
    with pytest.raises(ScenarioConfigError, match=message):
        parse_scenario(changed(change))


def test_a_station_with_only_chargers_needs_no_more_than_them() -> None:
    config = parse_scenario({
        "station": {"code": "ev-hub-7"},
        "devices": {"chargers": [{"charge_point_id": "chg-01", "profile": "dc120", "connectors": [1, 2]}]},
        "traffic": {"ev": {"sessions_per_hour": 4}},
    })
    assert config.positions() == [] and config.targets() == {"chg-01": "charger"}
    assert max(config.traffic.fuel.cars_per_hour) == 0 and config.faults == []


def test_unreadable_files_are_reported_with_the_path(tmp_path: Path) -> None:
    with pytest.raises(ScenarioConfigError, match="cannot read scenario file"):
        load_scenario(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("station: [unclosed\n", encoding="utf-8")
    with pytest.raises(ScenarioConfigError, match="not valid YAML"):
        load_scenario(bad)
    bad.write_text("- just a list\n", encoding="utf-8")
    with pytest.raises(ScenarioConfigError, match=r"bad\.yaml: expected a mapping"):
        load_scenario(bad)


def test_relative_paths_are_taken_from_the_files_folder(tmp_path: Path) -> None:
    raw = changed(lambda r: r["devices"]["cameras"].update(scenes_dir="scenes"))
    path = tmp_path / "station.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    config = load_scenario(path)
    assert config.devices.cameras is not None and config.devices.cameras.scenes_dir == tmp_path / "scenes"


@pytest.mark.parametrize(("text", "seconds"), [
    ("00:12:00", 720), ("1:30:00", 5400), ("12:00", 720), ("90", 90), (45, 45), (2.5, 2.5), ("0:00:07.5", 7.5),
])
def test_durations(text: object, seconds: float) -> None:
    assert parse_seconds(text) == seconds


@pytest.mark.parametrize("text", ["", "1:2:3:4", "00:60:00", "-5", "abc", True, None, "1::2"])
def test_bad_durations(text: object) -> None:
    with pytest.raises(ValueError):
        parse_seconds(text)


def test_yaml_reads_an_unquoted_time_as_the_same_seconds() -> None:
    assert yaml.safe_load("at: 1:30:00")["at"] == 5400 == parse_seconds("1:30:00")
    assert format_clock(5400) == "01:30:00" and format_clock(90061) == "25:01:01"


def test_every_fault_in_the_table_has_an_action_and_known_kinds() -> None:
    assert set(ACTIONS) == set(FAULTS)
    for kinds in FAULTS.values():
        assert set(kinds) <= set(KINDS)
    assert check_fault("power_loss", "dispenser", {"during_fuelling": True}) is None
    assert "does not take" in (check_fault("frozen", "dispenser", {}) or "")
