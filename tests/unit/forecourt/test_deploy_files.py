"""The deployment files start real ``forecourt`` commands with valid settings and mount only files that exist.

Docker and systemd cannot run here, so the files are read the way they would be: the Compose file with its
``${…}`` filled from ``env.example``, the units line by line. Every Forecourt command they start must parse
with the CLI's own parser, every ``FORECOURT_*`` setting they give (environment, env files, and the env files
``forecourt mqtt-auth`` writes for the services, generated here by the real command) must pass
``forecourt/settings.py``, and every file or folder they mount or copy must be in the repository.
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import yaml

from forecourt import cli
from forecourt.cli import main
from forecourt.settings import ENV_PREFIX, load_settings

ROOT = Path(__file__).resolve().parents[3]
HEAD_OFFICE = ROOT / "deploy" / "head-office"
STATION = ROOT / "deploy" / "station"
VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?([-?])([^}]*))?\}")


def env_lines(path: Path) -> dict[str, str]:
    """``KEY=value`` lines of an env file (comments and blank lines skipped)."""
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if line.strip() and not line.startswith("#"))
    return {key.strip(): value.strip() for key, value in pairs}


def interpolate(text: str, values: dict[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        name, kind, word = match.groups()
        if name in values:
            return values[name]
        assert kind == "-", f"${{{name}}} has no default and env.example does not set it"
        return word

    return VARIABLE.sub(one, text)


def compose() -> dict[str, Any]:
    values = env_lines(HEAD_OFFICE / "env.example")
    loaded: dict[str, Any] = yaml.safe_load(interpolate((HEAD_OFFICE / "compose.yaml").read_text(), values))
    return loaded


def forecourt_services() -> dict[str, dict[str, Any]]:
    return {name: svc for name, svc in compose()["services"].items() if svc["image"].startswith("forecourt:")}


def check_settings(monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], env_file: Path | None = None) -> None:
    """What the process would see: only these FORECOURT_* variables (and the env file), through load_settings."""
    for key in list(os.environ):
        if key.startswith(ENV_PREFIX):
            monkeypatch.delenv(key)
    for key, value in environment.items():
        if key.startswith(ENV_PREFIX):
            monkeypatch.setenv(key, str(value))
    load_settings(env_file)   # raises SettingsError naming each unknown or wrong variable


def parse_command(argv: list[str]) -> Any:
    """The CLI's own parser, except that files and folders are paths inside the container or on the station PC,
    not here: whether those exist is checked against the mounts (below), not by argparse."""
    try:
        with mock.patch.object(cli, "_file", Path), mock.patch.object(cli, "_folder", Path):
            return cli._parser().parse_args(argv)
    except SystemExit as exc:
        raise AssertionError(f"`forecourt {' '.join(argv)}` does not parse") from exc


# --- head office: Compose -------------------------------------------------------------------------------

def test_compose_runs_the_whole_head_office() -> None:
    services = compose()["services"]
    assert {"timescaledb", "mosquitto", "mqtt-auth", "business", "api", "grafana"} <= set(services)
    commands = {name: svc["command"] for name, svc in forecourt_services().items()}
    workers = [name for name, argv in commands.items() if argv[-1] == "ingest"]
    assert len(workers) >= 2, "two ingest workers on the shared subscription"
    ids = {forecourt_services()[w]["environment"]["FORECOURT_INGEST_WORKER_ID"] for w in workers}
    assert len(ids) == len(workers), "each worker needs an id of its own (its persistent MQTT session)"


def test_compose_bind_mounts_and_build_files_exist() -> None:
    spec = compose()
    named = set(spec.get("volumes", {}))
    for name, svc in spec["services"].items():
        for volume in svc.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith((".", "/")):
                assert (HEAD_OFFICE / source).exists(), f"{name} mounts {source}, which is not in the repository"
            else:
                assert source in named, f"{name} mounts the undeclared volume {source}"
        if "build" in svc:
            context = HEAD_OFFICE / svc["build"]["context"]
            dockerfile = context / svc["build"]["dockerfile"]
            assert dockerfile.is_file()
            for line in dockerfile.read_text().splitlines():
                if line.startswith("COPY "):
                    for source in line.split()[1:-1]:
                        assert (context / source).exists(), f"the Dockerfile copies {source}, which is missing"


def test_compose_commands_parse_and_their_settings_are_valid(monkeypatch: pytest.MonkeyPatch,
                                                             tmp_path: Path) -> None:
    services = forecourt_services()
    # the one-shot mqtt-auth service, run for real with its volumes mapped to the repository and a temporary folder
    auth = services.pop("mqtt-auth")
    mounts = {target: source for source, target, *_ in (v.split(":") for v in auth["volumes"])}
    out_volume = mounts[auth["command"][auth["command"].index("--out") + 1]]
    argv = [str(HEAD_OFFICE / mounts["/etc/forecourt/stations"] / Path(a).name)
            if a.startswith("/etc/forecourt/stations/") else a for a in auth["command"]]
    argv[argv.index("--out") + 1] = str(tmp_path)
    parse_command(auth["command"])
    assert main(argv) == 0
    for name, svc in services.items():
        args = parse_command(svc["command"])
        assert args.command in {"ingest", "business", "api", "edge", "alarms"}, name
        env_file = None
        if args.env_file is not None:
            volume = next(v.split(":")[0] for v in svc["volumes"] if str(args.env_file).startswith(v.split(":")[1]))
            assert volume == out_volume, f"{name} reads {args.env_file} from a volume mqtt-auth does not write"
            env_file = tmp_path / args.env_file.name
            assert env_file.is_file(), f"mqtt-auth writes no {args.env_file.name} for {name}"
        check_settings(monkeypatch, {k: str(v) for k, v in svc.get("environment", {}).items()}, env_file)
        url = load_settings(env_file).mqtt_url
        assert url is not None and "@" in url, f"{name} logs in to the broker"


def test_grafana_gets_the_repository_provisioning_folder() -> None:
    grafana = compose()["services"]["grafana"]
    mounts = dict(v.split(":")[:2] for v in grafana["volumes"])
    assert (HEAD_OFFICE / next(s for s, t in mounts.items() if t == "/etc/grafana/provisioning")).resolve() == \
        ROOT / "grafana" / "provisioning"
    provisioning = (ROOT / "grafana" / "provisioning" / "datasources" / "forecourt.yaml").read_text()
    for variable in set(re.findall(r"\$\{(GRAFANA_PG_[A-Z]+)\}", provisioning)):
        assert variable in grafana["environment"], f"the datasource needs {variable}"


# --- station PC: systemd units --------------------------------------------------------------------------

def unit(path: Path) -> dict[str, list[str]]:
    """``Key=value`` of a unit file, every value of a repeated key kept in order."""
    found: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.startswith(("#", ";", "[")):
            key, value = line.split("=", 1)
            found.setdefault(key.strip(), []).append(value.strip())
    return found


UNITS = sorted(STATION.glob("*.service"))
INSTANCE = "st-0001"    # what systemd puts for %i in a template unit (forecourt-alarms@st-0001.service)


def exec_start(path: Path) -> list[str]:
    return shlex.split(unit(path)["ExecStart"][0].replace("%i", INSTANCE))


def test_station_has_the_edge_node_and_the_station_server() -> None:
    commands = {parse_command(exec_start(u)[1:]).command for u in UNITS}
    assert commands == {"edge", "business", "api", "alarms"}


@pytest.mark.parametrize("path", UNITS, ids=[u.name for u in UNITS])
def test_unit_starts_a_forecourt_command_with_valid_settings(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    keys = unit(path)
    argv = exec_start(path)
    assert Path(argv[0]).name == "forecourt"
    parse_command(argv[1:])
    environment: dict[str, str] = {}
    for env_file in keys.get("EnvironmentFile", []):
        example = STATION / (Path(env_file.lstrip("-")).name + ".example")
        assert example.is_file(), f"{path.name} reads {env_file}: ship {example.name} to show what it holds"
        environment |= env_lines(example)
    for line in keys.get("Environment", []):
        environment |= dict(pair.split("=", 1) for pair in shlex.split(line))
    check_settings(monkeypatch, environment)


@pytest.mark.parametrize("path", UNITS, ids=[u.name for u in UNITS])
def test_unit_restarts_and_is_hardened(path: Path) -> None:
    keys = unit(path)
    assert keys["Restart"] == ["always"]
    assert keys["User"][0] not in {"root", "0"}
    for key, value in {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
                       "PrivateTmp": "yes", "CapabilityBoundingSet": ""}.items():
        assert keys.get(key) == [value], f"{path.name}: {key}={value}"
