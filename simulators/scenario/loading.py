"""Reading a scenario file: YAML in, a validated ``ScenarioConfig`` out, or one error naming the keys.

Also the variations a run may ask for: ``with_overrides`` (the command line's ``--speed`` and
``--seed``) and ``with_free_ports`` (every listener on a port the OS picks, no serial lines to
spare: for tests and for two stations side by side).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from simulators.scenario.config import ScenarioConfig, ScenarioConfigError, Simulation


def _describe(error: Any) -> str:
    loc = ".".join(str(p) for p in error.get("loc", ())) or "(top level)"
    kind, message = error.get("type"), str(error.get("msg", ""))
    if kind == "extra_forbidden":
        return f"{loc}: unknown key"
    if kind == "missing":
        return f"{loc}: required key is missing"
    message = message.removeprefix("Value error, ")
    if loc == "(top level)" and ": " in message:
        return message  # cross-checks name their own key
    return f"{loc}: {message} (got {error.get('input')!r})" if kind != "value_error" else f"{loc}: {message}"


def load_scenario(path: Path) -> ScenarioConfig:
    """Read and validate a scenario file; relative paths in it are taken from the file's folder."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScenarioConfigError(f"{path}: cannot read scenario file: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ScenarioConfigError(f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    except yaml.YAMLError as exc:
        raise ScenarioConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ScenarioConfigError(f"{path}: expected a mapping with 'station', 'devices', 'traffic' …")
    _resolve_paths(raw, path.parent)
    return parse_scenario(raw, source=str(path))


def parse_scenario(raw: dict[str, Any], source: str = "scenario") -> ScenarioConfig:
    try:
        return ScenarioConfig.model_validate(raw)
    except ValidationError as exc:
        raise ScenarioConfigError(f"{source}: " + "; ".join(_describe(e) for e in exc.errors())) from exc


def _resolve_paths(raw: dict[str, Any], base: Path) -> None:
    devices = raw.get("devices")
    if not isinstance(devices, dict):
        return
    cameras = devices.get("cameras")
    if isinstance(cameras, dict) and isinstance(cameras.get("scenes_dir"), str):
        cameras["scenes_dir"] = str(base / Path(cameras["scenes_dir"]).expanduser())
    for line in devices.get("gas_detectors") or []:
        if isinstance(line, dict) and isinstance(line.get("link_path"), str):
            line["link_path"] = str(base / Path(line["link_path"]).expanduser())


def with_free_ports(config: ScenarioConfig) -> ScenarioConfig:
    """The same scenario on ports the OS picks, without serial lines to spare (tests, side-by-side runs)."""
    d = config.devices
    devices = d.model_copy(update={
        "dispensers": [x.model_copy(update={"port": 0}) for x in d.dispensers],
        "tank_gauge": d.tank_gauge.model_copy(update={"tcp_port": 0, "serial": False}) if d.tank_gauge else None,
        "gas_skid": d.gas_skid.model_copy(update={"port": 0}) if d.gas_skid else None,
        "gas_detectors": [x.model_copy(update={"port": 0 if x.port is not None else None, "link_path": None})
                          for x in d.gas_detectors],
        "cameras": d.cameras.model_copy(update={"port": 0}) if d.cameras else None,
    })
    simulation = config.simulation.model_copy(
        update={"control_port": 0 if config.simulation.control_port is not None else None}
    )
    return config.model_copy(update={"devices": devices, "simulation": simulation})


def with_overrides(config: ScenarioConfig, *, speed: float | None = None, seed: int | None = None) -> ScenarioConfig:
    """The scenario with the command line's ``--speed`` / ``--seed`` in place of the file's."""
    changes = {key: value for key, value in (("speed", speed), ("seed", seed)) if value is not None}
    if not changes:
        return config
    try:
        simulation = Simulation.model_validate(config.simulation.model_dump() | changes)
    except ValidationError as exc:
        raise ScenarioConfigError(
            "; ".join(f"--{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        ) from exc
    return config.model_copy(update={"simulation": simulation})
