"""Declarative Modbus point maps: one frozen ``PointSpec`` per data point; adding a point is adding a line."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Table(StrEnum):
    HOLDING = "holding"    # FC03 read, FC06/FC16 write
    INPUT = "input"        # FC04
    COIL = "coil"          # FC01 read, FC05/FC15 write
    DISCRETE = "discrete"  # FC02


class DType(StrEnum):
    U16 = "u16"
    I16 = "i16"
    U32 = "u32"
    I32 = "i32"
    U64 = "u64"
    I64 = "i64"
    F32 = "f32"
    F64 = "f64"
    BOOL = "bool"

    @property
    def words(self) -> int:
        return {"u16": 1, "i16": 1, "bool": 1, "u32": 2, "i32": 2, "f32": 2, "u64": 4, "i64": 4, "f64": 4}[self.value]


class WordOrder(StrEnum):
    BIG = "big"        # high word at the lower address
    LITTLE = "little"  # low word at the lower address


@dataclass(frozen=True, slots=True)
class PointSpec:
    """One data point. ``value = raw * scale`` (so 0.01 L registers have ``scale=0.01``).

    ``integer=True`` keeps the scaled value an ``int`` (money in fen, counters, states).
    """

    key: str
    address: int
    dtype: DType = DType.U16
    table: Table = Table.HOLDING
    scale: float = 1.0
    unit: str | None = None
    word_order: WordOrder = WordOrder.BIG
    integer: bool = False
    writable: bool = False
    invalid_raw: int | None = None   # a raw value the device sends for "no valid reading" (e.g. 0xFFFF)
    description: str = ""

    @property
    def count(self) -> int:
        return 1 if self.table in (Table.COIL, Table.DISCRETE) else self.dtype.words

    @property
    def end(self) -> int:
        return self.address + self.count
