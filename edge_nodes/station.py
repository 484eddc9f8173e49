"""The station file: one validated YAML per station that says which devices the edge node polls and how.

A mistake fails at start with the file, the key and what was expected (``StationConfigError``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from protocol_adapters.modbus.points import DType, PointSpec, Table, WordOrder
from protocol_adapters.modbus.profiles import PROFILES

Code = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,31}$")]


class StationConfigError(ValueError):
    """The station file is wrong; the message names the file, the key and what was expected."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PointConfig(_Strict):
    key: str
    address: Annotated[int, Field(ge=0, le=65535)]
    dtype: DType = DType.U16
    table: Table = Table.HOLDING
    scale: float = 1.0
    unit: str | None = None
    word_order: WordOrder = WordOrder.BIG
    integer: bool = False
    writable: bool = False

    def spec(self) -> PointSpec:
        return PointSpec(**self.model_dump())


class ModbusDevice(_Strict):
    code: Code
    kind: Literal["dispenser", "tank_gauge", "gas_detector", "generic"] = "generic"
    protocol: Literal["modbus-tcp"] = "modbus-tcp"
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 502
    unit_id: Annotated[int, Field(ge=0, le=247)] = 1
    profile: Literal["dispenser-v1"] | None = None
    fuelling_points: Annotated[int, Field(ge=1, le=4)] = 1
    nozzles_per_point: Annotated[int, Field(ge=1, le=4)] = 1
    poll_interval_s: Annotated[float, Field(gt=0, le=3600)] = 1.0
    timeout_s: Annotated[float, Field(gt=0, le=60)] = 1.0
    deadband: Annotated[float, Field(ge=0)] = 0.0
    points: list[PointConfig] = []

    @model_validator(mode="after")
    def _has_points(self) -> ModbusDevice:
        if self.profile is None and not self.points:
            raise ValueError("a device needs a 'profile' or a list of 'points'")
        return self

    def point_specs(self) -> list[PointSpec]:
        specs = PROFILES[self.profile](self.fuelling_points, self.nozzles_per_point) if self.profile else []
        specs += [p.spec() for p in self.points]
        return specs


class Station(_Strict):
    station: Code
    name: str = ""
    group: str | None = None
    timezone: str = "Asia/Shanghai"
    devices: list[ModbusDevice]

    @model_validator(mode="after")
    def _unique_codes(self) -> Station:
        seen: set[str] = set()
        for i, d in enumerate(self.devices):
            if d.code in seen:
                raise ValueError(f"devices.{i}.code: duplicate device code {d.code!r}")
            seen.add(d.code)
        return self


def _describe(err: dict[str, object]) -> str:
    loc = ".".join(str(p) for p in err.get("loc", ())) or "(top level)"  # type: ignore[attr-defined]
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
    except yaml.YAMLError as exc:
        raise StationConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise StationConfigError(f"{path}: expected a mapping with 'station' and 'devices'")
    try:
        return Station.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(_describe(dict(e)) for e in exc.errors())
        raise StationConfigError(f"{path}: {problems}") from exc
