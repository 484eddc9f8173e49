"""The station file: one validated YAML per station that says which devices the edge node polls and how.

A mistake fails at start with the file, the key and what was expected (``StationConfigError``).
Each device entry is read as the device kind registered for its ``protocol`` (``edge_nodes/devices/base.py``;
``modbus-tcp`` when left out), so a new kind needs no change here.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Annotated, Any, Union

import yaml
from pydantic import Discriminator, SerializeAsAny, Tag, ValidationError, create_model, model_validator

from edge_nodes.devices import base
from edge_nodes.devices.base import DEVICE_KINDS, Code, DeviceEntry, Strict


def _protocol(entry: Any) -> str | None:
    """The union's tag: ``protocol`` in the station file, ``modbus-tcp`` when left out."""
    if isinstance(entry, dict):
        return str(entry.get("protocol", "modbus-tcp"))
    return getattr(entry, "protocol", None)


class StationConfigError(ValueError):
    """The station file is wrong; the message names the file, the key and what was expected."""


class Station(Strict):
    """A station file; ``load_station``/``parse_station`` read each device entry as its registered kind."""

    station: Code
    name: str = ""
    group: str | None = None
    timezone: str = "Asia/Shanghai"
    devices: list[SerializeAsAny[DeviceEntry]]   # dumped as their own kind, so a dump loads back

    @model_validator(mode="after")
    def _unique_codes(self) -> Station:
        seen: set[str] = set()
        for i, d in enumerate(self.devices):
            if d.code in seen:
                raise ValueError(f"devices.{i}.code: duplicate device code {d.code!r}")
            seen.add(d.code)
        return self


@cache
def _station_model(kinds: tuple[tuple[str, type[DeviceEntry]], ...]) -> type[Station]:
    """``Station`` whose devices are the union of the registered kinds, tagged by ``protocol``."""
    union = Union[tuple(Annotated[kind, Tag(name)] for name, kind in kinds)]  # type: ignore[valid-type]  # noqa: UP007
    device = Annotated[union, Discriminator(_protocol)]  # type: ignore[valid-type]
    return create_model("Station", __base__=Station, devices=(list[device], ...))


def parse_station(raw: dict[str, Any]) -> Station:
    """Validate a station file's content; ``ValidationError`` names the key and what was expected."""
    return _station_model(tuple(sorted(base.DEVICE_KINDS.items()))).model_validate(raw)


def _describe(err: dict[str, object]) -> str:
    # drop the union's tag from the path: devices.0.port, not devices.0.modbus-tcp.port
    loc = ".".join(str(p) for p in err.get("loc", ()) if p not in DEVICE_KINDS) or "(top level)"  # type: ignore[attr-defined]
    kind = err.get("type")
    if kind == "extra_forbidden":
        return f"{loc}: unknown key (not part of a station file)"
    if kind == "missing":
        return f"{loc}: required key is missing"
    return f"{loc}: {err.get('msg')} (got {err.get('input')!r})"


def load_station(path: Path) -> Station:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise StationConfigError(f"{path}: cannot read station file: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise StationConfigError(f"{path}: not UTF-8 text (byte {exc.start}); save the station file as UTF-8") from None
    except yaml.YAMLError as exc:
        raise StationConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise StationConfigError(f"{path}: expected a mapping with 'station' and 'devices'")
    try:
        return parse_station(raw)
    except ValidationError as exc:
        problems = "; ".join(_describe(dict(e)) for e in exc.errors())
        raise StationConfigError(f"{path}: {problems}") from exc
