"""Building blocks of the declared address space: point, method and object specs, units.

Each ``PointSpec`` names a variable (its BrowseName carries the unit, e.g. ``_MPa_g``), its
OPC UA type, its engineering unit (UNECE code), how it is read from the model, and for the
setpoints a PLC allows, how a write is applied (raising ``CommandRefused`` when refused).
The specs themselves are in ``cng_points.py`` and ``lng_points.py``; ``address_space.py``
assembles them. Pure: no asyncua calls, only its type enumeration.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from asyncua import ua

from simulators.gas_skid.errors import CommandRefused, Refusal
from simulators.gas_skid.model import GasSkidModel

Value = float | int | bool | str
DOUBLE = ua.VariantType.Double
INT32 = ua.VariantType.Int32
BOOLEAN = ua.VariantType.Boolean
STRING = ua.VariantType.String


@dataclass(frozen=True)
class Unit:
    """An engineering unit by its UNECE Rec. 20 common code (OPC UA Part 8 EUInformation)."""

    code: str
    symbol: str
    description: str

    @property
    def unit_id(self) -> int:
        """OPC UA UnitId: the code's ASCII bytes packed big-endian into an Int32."""
        unit_id = 0
        for char in self.code:
            unit_id = (unit_id << 8) | ord(char)
        return unit_id


MPA_G = Unit("MPA", "MPa", "megapascal, gauge")
CELSIUS = Unit("CEL", "°C", "degree Celsius")
KG = Unit("KGM", "kg", "kilogram")
KG_MIN = Unit("F31", "kg/min", "kilogram per minute")
KG_M3 = Unit("KMQ", "kg/m³", "kilogram per cubic metre")
HOUR = Unit("HUR", "h", "hour")
MM = Unit("MMT", "mm", "millimetre")
PERCENT = Unit("P1", "%", "percent")
M3 = Unit("MTQ", "m³", "cubic metre")
LITRE = Unit("LTR", "L", "litre")
PASCAL = Unit("PAL", "Pa", "pascal")
WATT = Unit("WTT", "W", "watt")


@dataclass(frozen=True)
class PointSpec:
    name: str
    vtype: ua.VariantType
    read: Callable[[GasSkidModel], Value]
    unit: Unit | None = None
    description: str = ""
    write: Callable[[GasSkidModel, Value], None] | None = None
    eu_range: tuple[float, float] | None = None
    sensor: str | None = None


@dataclass(frozen=True)
class ArgSpec:
    name: str
    vtype: ua.VariantType
    description: str


@dataclass(frozen=True)
class MethodSpec:
    name: str
    call: Callable[[GasSkidModel, list[Value]], list[Value]]
    description: str
    inputs: tuple[ArgSpec, ...] = ()
    outputs: tuple[ArgSpec, ...] = ()


@dataclass(frozen=True)
class ObjectSpec:
    path: tuple[str, ...]  # below Objects/GasSkid
    description: str
    points: tuple[PointSpec, ...] = ()
    methods: tuple[MethodSpec, ...] = ()


def rounded(value: float, digits: int = 3) -> float:
    """A measured value at its transmitter's resolution (MPa to 0.001 by default)."""
    return round(float(value), digits)


def no_output(action: Callable[[GasSkidModel], None]) -> Callable[[GasSkidModel, list[Value]], list[Value]]:
    def call(model: GasSkidModel, _args: list[Value]) -> list[Value]:
        action(model)
        return []

    return call


def as_float(value: Value) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CommandRefused(Refusal.BAD_ARGUMENT, f"expected a number, got {value!r}")
    return float(value)


def as_int(value: Value) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise CommandRefused(Refusal.BAD_ARGUMENT, f"expected an integer, got {value!r}")
    return value


#: StartFill's input and output arguments (CNG and LNG dispensers).
PRESET = ArgSpec("TargetMass_kg", DOUBLE, "stop at this mass (kg); 0 = fill to full / target pressure")
TRANSACTION = ArgSpec("TransactionNo", INT32, "number of the fill just started")
