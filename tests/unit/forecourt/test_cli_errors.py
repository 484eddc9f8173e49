"""Common mistakes end in one or two lines naming the setting, flag or file — never a traceback.

Each test runs the CLI's ``main([...])`` and reads its exit code and stderr. The database, broker and
busy-port cases need servers: ``tests/integration/forecourt/test_cli_failures.py``.
"""

import re
import socket
from pathlib import Path

import pytest

from forecourt.cli import main
from forecourt.settings import Settings, load_settings

ROOT = Path(__file__).parents[3]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in ("FORECOURT_DATABASE_URL", "FORECOURT_MQTT_URL", "FORECOURT_MQTT_CA_FILE", "FORECOURT_API_PORT",
                "FORECOURT_LOG_LEVEL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("FORECOURT_DATA_DIR", str(tmp_path / "data"))


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    try:
        code = main(argv)
    except SystemExit as exc:     # argparse
        code = int(exc.code or 0)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    message = [line for line in err.strip().splitlines() if not line.startswith(("usage:", " "))]  # argparse usage
    assert len(message) <= 2, err
    return code, err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_typo_in_the_env_file_suggests_the_setting(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = tmp_path / "forecourt.env"
    env.write_text("FORECOURT_DATABSE_URL=postgresql://x@h/db\n")
    code, err = _run(["--env-file", str(env), "db", "migrate"], capsys)
    assert code == 2
    assert "FORECOURT_DATABSE_URL" in err and "did you mean FORECOURT_DATABASE_URL?" in err
    assert "FORECOURT_FORECOURT_" not in err and str(env) in err


def test_a_typo_in_the_environment_suggests_the_setting(monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("FORECOURT_MQTT_CAFILE", "/x")
    code, err = _run(["db", "migrate"], capsys)
    assert code == 2 and "did you mean FORECOURT_MQTT_CA_FILE?" in err


def test_other_programs_lines_in_the_env_file_are_ignored(tmp_path: Path) -> None:
    env = tmp_path / "forecourt.env"
    env.write_text("OTHER=1\nPGPASSWORD=x\nFORECOURT_API_PORT=8123\n")
    assert load_settings(env).api_port == 8123


def test_the_environment_wins_over_the_env_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = tmp_path / "forecourt.env"
    env.write_text("FORECOURT_API_PORT=8123\nFORECOURT_GROUP=from-file\n")
    monkeypatch.setenv("FORECOURT_API_PORT", "8124")
    settings = load_settings(env)
    assert (settings.api_port, settings.group) == (8124, "from-file")


def test_an_env_file_that_is_not_utf8_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = tmp_path / "gbk.env"
    env.write_bytes("FORECOURT_GROUP=加油站\n".encode("gbk"))
    code, err = _run(["--env-file", str(env), "db", "migrate"], capsys)
    assert code == 2 and str(env) in err and "UTF-8" in err


@pytest.mark.parametrize("url", ["mqtt://edge:s3cret@broker.example:abc", "mqtt://edge:s3cret@broker.example:99999"])
def test_an_mqtt_url_with_a_bad_port_is_named_without_its_password(
        url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("FORECOURT_MQTT_URL", url)
    code, err = _run(["db", "migrate"], capsys)
    assert code == 2 and "FORECOURT_MQTT_URL" in err and "1 to 65535" in err
    assert "s3cret" not in err


def test_a_missing_ca_file_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("FORECOURT_MQTT_URL", "mqtts://broker.example:8883")
    monkeypatch.setenv("FORECOURT_MQTT_CA_FILE", str(tmp_path / "ca.crt"))
    code, err = _run(["ingest"], capsys)
    assert code == 2 and "FORECOURT_MQTT_CA_FILE" in err


@pytest.mark.parametrize(("argv", "flag"), [
    (["api", "--port", "70000"], "--port"),
    (["api", "--port", "abc"], "--port"),
    (["ingest", "--metrics-port", "0"], "--metrics-port"),
    (["sim", "dispenser", "--port", "-1"], "--port"),
    (["sim", "dispenser", "--speed", "0"], "--speed"),
    (["edge", "--station", "no/such/station.yaml"], "--station"),
    (["sim", "station", "no/such/scenario.yaml"], "file"),
    (["--env-file", "no/such.env", "api"], "--env-file"),
])
def test_flags_are_checked_before_anything_starts(argv: list[str], flag: str,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _run(argv, capsys)
    assert code == 2 and f"argument {flag}" in err


def test_a_station_file_that_is_not_utf8_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    station = tmp_path / "station.yaml"
    station.write_bytes("station: demo-01\nname: 演示站\ndevices: []\n".encode("gbk"))
    monkeypatch.setenv("FORECOURT_MQTT_URL", "mqtt://127.0.0.1:1")   # never reached: the file fails first
    code, err = _run(["edge", "--station", str(station), "--metrics-port", str(_free_port())], capsys)
    assert code == 2 and str(station) in err and "UTF-8" in err


def test_a_scenario_file_that_is_not_utf8_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenario = tmp_path / "scenario.yaml"
    scenario.write_bytes("station: {code: demo-01, name: 演示站}\n".encode("gbk"))
    code, err = _run(["sim", "station", str(scenario)], capsys)
    assert code == 2 and str(scenario) in err and "UTF-8" in err


def test_a_data_dir_that_cannot_be_written_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("FORECOURT_DATA_DIR", str(blocker / "data"))   # even root cannot make this folder
    code, err = _run(["db", "migrate"], capsys)
    assert code == 1 and "FORECOURT_DATA_DIR" in err and str(blocker / "data") in err


def test_settings_and_help_list_every_setting_with_its_default(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["settings"]) == 0
    listing = capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["--help"])
    helptext = capsys.readouterr().out
    for name, field in Settings.model_fields.items():
        line = next(li for li in listing.splitlines() if li.split()[0] == f"FORECOURT_{name.upper()}")
        assert field.description and field.description in line
        assert f"FORECOURT_{name.upper()}" in helptext
    assert re.search(r"FORECOURT_API_PORT\s+8000\s", listing)


def test_the_readme_configuration_table_has_every_setting() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| `FORECOURT_")]
    named = set(re.findall(r"`(FORECOURT_[A-Z0-9_]+)`", "\n".join(row.split("|")[1] for row in rows)))
    assert {f"FORECOURT_{name.upper()}" for name in Settings.model_fields} <= named


def test_a_ca_file_that_is_not_pem_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    ca = tmp_path / "ca.crt"
    ca.write_text("this is not a certificate\n")
    monkeypatch.setenv("FORECOURT_MQTT_URL", "mqtts://broker.example:8883")
    monkeypatch.setenv("FORECOURT_MQTT_CA_FILE", str(ca))
    code, err = _run(["ingest"], capsys)
    assert code == 2 and "FORECOURT_MQTT_CA_FILE" in err and "PEM" in err


@pytest.mark.parametrize(("content", "says"), [
    (b"fuelling_points: 3\n", "fuelling_points: Input should be a valid list"),
    ("seed: 1\n# 加油机\n".encode("gbk"), "UTF-8"),
    (b"fuelling_points: [\n", "not valid YAML at line 2"),
])
def test_a_wrong_dispenser_file_is_named(content: bytes, says: str, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "dispenser.yaml"
    config.write_bytes(content)
    code, err = _run(["sim", "dispenser", "--config", str(config), "--port", "0"], capsys)
    assert code == 2 and str(config) in err and says in err
