"""A broken station file fails at start, naming the file, the key and what was expected."""

from pathlib import Path

import pytest
import yaml

from edge_nodes.devices.modbus import ModbusDevice
from edge_nodes.station import Station, StationConfigError, load_station

GOOD = """
station: st-01
name: 演示站
devices:
  - code: disp-01
    kind: dispenser
    port: 5020
    profile: dispenser-v1
    fuelling_points: 2
    nozzles_per_point: 2
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "station.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_good_file_loads_with_the_profile_points(tmp_path: Path) -> None:
    station = load_station(_write(tmp_path, GOOD))
    keys = {p.key for p in station.devices[0].point_specs()}
    assert {"fp2/nozzle2/volume_total", "fp1/amount", "fp1/state"} <= keys


def test_the_demo_station_in_the_repository_is_valid() -> None:
    station = load_station(Path(__file__).parents[3] / "config" / "stations" / "demo.yaml")
    assert station.devices


@pytest.mark.parametrize(("text", "names"), [
    (GOOD.replace("    port: 5020", "    port: 5020\n    colour: red"), ["devices.0.colour", "unknown key"]),
    (GOOD.replace("port: 5020", "port: many"), ["devices.0.port", "integer", "'many'"]),
    (GOOD.replace("fuelling_points: 2", "fuelling_points: 9"), ["devices.0.fuelling_points", "4"]),
    (GOOD + GOOD.split("devices:\n")[1], ["duplicate device code 'disp-01'"]),
    ("station: st-01\n", ["devices", "missing"]),
    (GOOD.replace("    port: 5020", "    protocol: bacnet"), ["devices.0", "'bacnet'", "modbus-tcp"]),
    (GOOD.replace("    port: 5020", "    protocol: modbus-rtu"), ["devices.0.serial_port", "missing"]),
    ("- just\n- a list\n", ["expected a mapping"]),
    ("station: [unclosed\n", ["not valid YAML"]),
])
def test_bad_files_name_the_file_and_key(tmp_path: Path, text: str, names: list[str]) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(StationConfigError) as err:
        load_station(path)
    message = str(err.value)
    assert str(path) in message
    for name in names:
        assert name in message


def test_missing_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(StationConfigError, match="cannot read"):
        load_station(tmp_path / "nope.yaml")


def test_an_unknown_profile_names_the_known_ones(tmp_path: Path) -> None:
    path = tmp_path / "st.yaml"
    path.write_text("station: st-01\ndevices:\n  - {code: d1, profile: dispenser-v9}\n", encoding="utf-8")
    with pytest.raises(StationConfigError, match=r"devices\.0\.profile: .*dispenser-v1"):
        load_station(path)


def test_a_station_built_in_code_dumps_every_device_as_its_own_kind_and_loads_back(tmp_path: Path) -> None:
    station = Station(station="st-dump", devices=[ModbusDevice(
        code="disp-01", kind="dispenser", port=5020, profile="dispenser-v1", fuelling_points=2, nozzles_per_point=2)])
    path = tmp_path / "station.yaml"
    path.write_text(yaml.safe_dump(station.model_dump(mode="json")))
    assert load_station(path).devices == station.devices
