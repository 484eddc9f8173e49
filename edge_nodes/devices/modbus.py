"""Modbus devices in a station file (TCP, or RTU on a shared serial line), and the pollers that read them.

Writable points take Sparkplug DCMD writes; a ``dispenser-v1`` device also takes the dispenser
commands and has its fuellings watched (``edge_nodes/devices/dispenser.py``).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from edge_nodes.commands import DeviceCommand
from edge_nodes.devices import dispenser
from edge_nodes.devices.base import (
    Code,
    DeviceEntry,
    NodeServices,
    PriceWriter,
    Strict,
    Watcher,
    Writer,
    register,
)
from edge_nodes.poller import ModbusPoller
from edge_nodes.source import DeviceSource, SourceContext
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
    invalid_raw: int | None = None

    def spec(self) -> PointSpec:
        return PointSpec(**self.model_dump())


class _ModbusCommon(DeviceEntry):
    code: Code
    kind: Literal["dispenser", "tank_gauge", "gas_detector", "generic"] = "generic"
    unit_id: Annotated[int, Field(ge=1, le=247)] = 1
    profile: str | None = None           # a register map of PROFILES
    fuelling_points: Annotated[int, Field(ge=1, le=4)] = 1
    nozzles_per_point: Annotated[int, Field(ge=1, le=4)] = 1
    poll_interval_s: Annotated[float, Field(gt=0, le=3600)] = 1.0
    timeout_s: Annotated[float, Field(gt=0, le=60)] = 1.0
    deadband: Annotated[float, Field(ge=0)] = 0.0
    points: tuple[PointConfig, ...] = ()

    @field_validator("profile")
    @classmethod
    def _known_profile(cls, profile: str | None) -> str | None:
        if profile is not None and profile not in PROFILES:
            raise ValueError(f"unknown profile; expected one of {sorted(PROFILES)}")
        return profile

    @model_validator(mode="after")
    def _has_points(self) -> _ModbusCommon:
        if self.profile is None and not self.points:
            raise ValueError("a device needs a 'profile' or a list of 'points'")
        return self

    def point_specs(self) -> list[PointSpec]:
        specs = PROFILES[self.profile](self.fuelling_points, self.nozzles_per_point) if self.profile else []
        specs += [p.spec() for p in self.points]
        return specs

    def watcher(self, source: DeviceSource, node: NodeServices) -> Watcher | None:
        if self.profile != dispenser.PROFILE:
            return None
        return dispenser.fuelling_watcher(self.code, self.fuelling_points, dispenser.connection_of(source), node)

    def commands(self, source: DeviceSource) -> dict[str, DeviceCommand]:
        if self.profile != dispenser.PROFILE:
            return {}
        return dispenser.dispenser_commands(dispenser.connection_of(source))

    def writer(self, source: DeviceSource) -> Writer | None:
        return source if isinstance(source, ModbusPoller) else None

    def price_writer(self, source: DeviceSource) -> PriceWriter | None:
        if self.profile != dispenser.PROFILE:
            return None
        return dispenser.DispenserCommands(dispenser.connection_of(source))


@register
class ModbusDevice(_ModbusCommon):
    protocol: Literal["modbus-tcp"] = "modbus-tcp"
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 502

    def source(self, context: SourceContext | None = None) -> ModbusPoller:
        connection = ModbusConnection(host=self.host, port=self.port, unit_id=self.unit_id, timeout=self.timeout_s)
        return ModbusPoller(self.code, connection, self.point_specs(), self.poll_interval_s)


@register
class ModbusRtuDevice(_ModbusCommon):
    """A unit on an RS-485 line; every device on the same ``serial_port`` shares one connection."""

    protocol: Literal["modbus-rtu"]
    serial_port: str
    baudrate: Literal[1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200] = 9600
    parity: Literal["N", "E", "O"] = "N"

    def source(self, context: SourceContext | None = None) -> ModbusPoller:
        context = context or SourceContext()
        key = ("modbus-rtu", self.serial_port)
        line = context.shared.get(key)
        if line is None:
            line = ModbusConnection(serial_port=self.serial_port, baudrate=self.baudrate, parity=self.parity,
                                    unit_id=self.unit_id, timeout=self.timeout_s)
            context.shared[key] = line
        assert isinstance(line, ModbusConnection)  # noqa: S101 - the cache holds only what this method put there
        return ModbusPoller(self.code, line, self.point_specs(), self.poll_interval_s, unit_id=self.unit_id)
