"""Declarative OPC UA node maps: one frozen ``NodeSpec`` per value; adding a value is adding a line.

A node is found by its browse path below the server's ``Objects`` folder, written with ``/``
between BrowseNames (``GasSkid/CngDispenser1/Mass_kg``). The BrowseNames carry no namespace
index: the client looks the device's namespace up by its URI and applies it to every element,
so a server that registers its namespaces in another order still works.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from telemetry.contracts.sparkplug import DataType


class UaType(StrEnum):
    """The OPC UA built-in DataType of a node (the names are those of Part 6 and asyncua's VariantType)."""

    BOOLEAN = "Boolean"
    INT16 = "Int16"
    INT32 = "Int32"
    INT64 = "Int64"
    UINT16 = "UInt16"
    UINT32 = "UInt32"
    UINT64 = "UInt64"
    FLOAT = "Float"
    DOUBLE = "Double"
    STRING = "String"
    DATETIME = "DateTime"   # reported as milliseconds since the epoch (UTC), Sparkplug DateTime

    @property
    def sparkplug(self) -> DataType:
        """The Sparkplug type the edge node announces for such a node in the device's birth."""
        return _SPARKPLUG[self]

    @property
    def numeric(self) -> bool:
        return self in _NUMERIC

    @property
    def integer(self) -> bool:
        return self in _INTEGER


_SPARKPLUG = {
    UaType.BOOLEAN: DataType.BOOLEAN, UaType.INT16: DataType.INT16, UaType.INT32: DataType.INT32,
    UaType.INT64: DataType.INT64, UaType.UINT16: DataType.UINT16, UaType.UINT32: DataType.UINT32,
    UaType.UINT64: DataType.UINT64, UaType.FLOAT: DataType.FLOAT, UaType.DOUBLE: DataType.DOUBLE,
    UaType.STRING: DataType.STRING, UaType.DATETIME: DataType.DATETIME,
}
_INTEGER = frozenset({UaType.INT16, UaType.INT32, UaType.INT64, UaType.UINT16, UaType.UINT32, UaType.UINT64})
_NUMERIC = _INTEGER | {UaType.FLOAT, UaType.DOUBLE}


@dataclass(frozen=True, slots=True)
class NodeSpec:
    """One value of a device.

    ``deadband`` (absolute, in ``unit``) is asked of the server as a data-change filter: it reports a
    change only when the value moved by more than this; 0 reports every change. Only numbers have one.
    """

    key: str
    browse_path: str
    unit: str | None = None
    datatype: UaType = UaType.DOUBLE
    deadband: float = 0.0
    description: str = ""

    def __post_init__(self) -> None:
        if not self.key:
            raise ValueError("a node needs a key")
        split_path(self.browse_path)
        if self.deadband < 0:
            raise ValueError(f"{self.key}: deadband must be >= 0, got {self.deadband}")
        if self.deadband and not self.datatype.numeric:
            raise ValueError(f"{self.key}: only numbers have a deadband, not {self.datatype.value}")

    @property
    def elements(self) -> tuple[str, ...]:
        """The BrowseNames from ``Objects`` down to the node."""
        return split_path(self.browse_path)


def split_path(path: str) -> tuple[str, ...]:
    """``"GasSkid/CngDispenser1/StartFill"`` → its BrowseNames; raises ``ValueError`` for an empty element."""
    elements = tuple(path.strip("/").split("/"))
    if not all(elements):
        raise ValueError(f"browse path {path!r} has an empty element")
    return elements
