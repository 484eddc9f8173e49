"""Modbus TCP devices in a station file, and the poller that reads them."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from edge_nodes.devices.base import Code, Strict
from edge_nodes.poller import ModbusPoller
from protocol_adapters.modbus.client import ModbusConnection
from protocol_adapters.modbus.points import DType, PointSpec, Table, WordOrder
from protocol_adapters.modbus.profiles import PROFILES


class PointConfig(Strict):
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


class ModbusDevice(Strict):
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
    points: tuple[PointConfig, ...] = ()

    @model_validator(mode="after")
    def _has_points(self) -> ModbusDevice:
        if self.profile is None and not self.points:
            raise ValueError("a device needs a 'profile' or a list of 'points'")
        return self

    def point_specs(self) -> list[PointSpec]:
        specs = PROFILES[self.profile](self.fuelling_points, self.nozzles_per_point) if self.profile else []
        specs += [p.spec() for p in self.points]
        return specs

    def source(self) -> ModbusPoller:
        connection = ModbusConnection(host=self.host, port=self.port, unit_id=self.unit_id, timeout=self.timeout_s)
        return ModbusPoller(self.code, connection, self.point_specs(), self.poll_interval_s)
