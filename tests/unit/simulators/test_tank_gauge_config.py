"""The tank gauge's station-YAML section: defaults, validation errors, loading a file."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from simulators.tank_gauge.__main__ import load_config
from simulators.tank_gauge.config import TankAlarmLimits, TankConfig, TankGaugeConfig


def test_defaults_are_a_three_tank_station_on_port_10001() -> None:
    config = TankGaugeConfig()
    assert [tank.number for tank in config.tanks] == [1, 2, 3]
    assert config.tcp_port == 10001
    assert config.tanks[2].density_20 == 835.0


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"tanks": [{"number": 1}, {"number": 1}]}, "unique"),
        ({"security_code": "12345"}, "security_code"),
        ({"tanks": [{"number": 1, "volume": 3}]}, "volume"),  # unknown key
        ({"tanks": [{"number": 1, "initial_volume_l": 40000.0}]}, "initial_volume_l"),
        ({"tanks": [{"number": 1, "product_code": "12"}]}, "product_code"),
        ({"station_header": ["X" * 21]}, "station_header"),
    ],
)
def test_bad_settings_fail_with_the_key(settings: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        TankGaugeConfig.model_validate(settings)


def test_alarm_limits_must_be_ordered() -> None:
    with pytest.raises(ValidationError, match="low_product_pct"):
        TankAlarmLimits(low_product_pct=30.0)
    with pytest.raises(ValidationError, match="high_water_warning_mm"):
        TankAlarmLimits(high_water_mm=20.0)


def test_config_is_frozen() -> None:
    tank = TankConfig(number=1)
    with pytest.raises(ValidationError):
        tank.number = 2  # type: ignore[misc]


def test_load_config_from_a_station_file(tmp_path: Path) -> None:
    path = tmp_path / "station.yaml"
    path.write_text(
        "tank_gauge:\n"
        "  tcp_port: 10010\n"
        "  tanks:\n"
        "    - {number: 4, label: 0#柴油, capacity_l: 20000, diameter_mm: 2400, initial_volume_l: 9000}\n",
        encoding="utf-8",
    )
    config = load_config(path)
    assert config.tcp_port == 10010
    assert config.tanks[0].label == "0#柴油"
    assert config.tanks[0].resolved_length_mm == pytest.approx(4420.97, abs=0.01)


def test_load_config_names_the_file_and_key_on_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("tcp_port: 99999\n", encoding="utf-8")
    with pytest.raises(SystemExit, match=r"(?s)bad\.yaml.*tcp_port"):
        load_config(path)
