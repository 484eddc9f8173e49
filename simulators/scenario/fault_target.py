"""The device a fault names, resolved on the running station, and how fault arguments are read.

``Target`` gives the fault functions (``fault_link``, ``fault_equipment``) the simulator they act
on. Arguments come from the scenario file or the control port; ``arg_int`` and friends read one
with its default and raise ``ValueError`` with what was expected. A fault returns an ``Undo``
(how to end it) or None when it ends by itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

from simulators.camera.server import CameraServer
from simulators.charger.server import ChargerSimulator
from simulators.dispenser.server import DispenserServer
from simulators.gas_detector.server import GasDetectorServer
from simulators.gas_skid.server import GasSkidServer
from simulators.scenario.context import Context
from simulators.tank_gauge.server import TankGaugeServer

_T = TypeVar("_T")

Undo = Callable[[], Awaitable[None]]
Args = Mapping[str, object]


class Target:
    """The device a fault names, resolved on the running station (the file check made sure it exists)."""

    def __init__(self, ctx: Context, code: str, kind: str, duration_s: float | None = None) -> None:
        self.ctx, self.code, self.kind, self.duration_s = ctx, code, kind, duration_s
        #: when the fault really struck, if not when it was asked for (a power cut waiting for a fuelling)
        self.fired_s: float | None = None

    def dispenser(self) -> DispenserServer:
        return self.ctx.station.dispenser(self.code)

    def charger(self) -> ChargerSimulator:
        return self.ctx.station.charger(self.code)

    def gauge(self) -> TankGaugeServer:
        return present(self.ctx.station.gauge, "tank gauge")

    def skid(self) -> GasSkidServer:
        return present(self.ctx.station.skid, "gas skid")

    def cameras(self) -> CameraServer:
        return present(self.ctx.station.cameras, "cameras")

    def tank(self) -> int:
        return int(self.code.removeprefix("tank-"))

    def detectors(self) -> tuple[GasDetectorServer, list[int]]:
        """The detector line and the unit ids this target means (all units for a line)."""
        if self.kind == "detector_line":
            line = self.ctx.station.detector_lines[self.code]
            return line, list(line.unit_ids)
        for config in self.ctx.config.devices.gas_detectors:
            for unit in config.detectors:
                if self.code in (unit.tag, f"{config.code}/{unit.unit_id}"):
                    return self.ctx.station.detector_lines[config.code], [unit.unit_id]
        raise KeyError(self.code)


def present(part: _T | None, what: str) -> _T:
    if part is None:
        raise ValueError(f"the station has no {what}")
    return part


def arg_int(args: Args, key: str, default: int) -> int:
    value = args.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{key}: expected a whole number, got {value!r}")
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{key}: expected a whole number, got {value!r}") from None


def arg_float(args: Args, key: str, default: float) -> float:
    value = args.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{key}: expected a number, got {value!r}")
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"{key}: expected a number, got {value!r}") from None


def arg_text(args: Args, key: str, default: str) -> str:
    return str(args.get(key, default))


def arg_flag(args: Args, key: str) -> bool:
    value = args.get(key, False)
    return value is True or str(value).lower() in ("1", "true", "yes", "on")


def undo_by(action: Callable[[], object]) -> Undo:
    async def undo() -> None:
        action()

    return undo


def undo_units(units: list[int], action: Callable[[int], object]) -> Undo:
    async def undo() -> None:
        for unit in units:
            action(unit)

    return undo
