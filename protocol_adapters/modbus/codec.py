"""Pure Modbus codec: plan merged read requests and turn register words into typed values and back."""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from protocol_adapters.modbus.points import DType, PointSpec, Table, WordOrder

MAX_REGISTERS_PER_READ = 125   # the protocol's limit for FC03/FC04
MAX_BITS_PER_READ = 2000       # FC01/FC02

_STRUCT = {DType.U16: ">H", DType.I16: ">h", DType.U32: ">I", DType.I32: ">i", DType.U64: ">Q",
           DType.I64: ">q", DType.F32: ">f", DType.F64: ">d", DType.BOOL: ">H"}


class RegisterCountError(ValueError):
    """The device answered with a different number of registers than asked for."""


@dataclass(frozen=True, slots=True)
class ReadBlock:
    """One read request covering several points of the same table."""

    table: Table
    start: int
    count: int
    points: tuple[PointSpec, ...]


def plan_reads(points: Iterable[PointSpec], max_gap: int = 8) -> list[ReadBlock]:
    """Merge points into as few requests as the protocol allows.

    Points in the same table whose addresses are at most ``max_gap`` words apart share one
    request; a block never exceeds the protocol's per-request limit.
    """
    blocks: list[ReadBlock] = []
    by_table: dict[Table, list[PointSpec]] = {}
    for p in points:
        by_table.setdefault(p.table, []).append(p)
    for table, specs in by_table.items():
        limit = MAX_BITS_PER_READ if table in (Table.COIL, Table.DISCRETE) else MAX_REGISTERS_PER_READ
        specs.sort(key=lambda p: p.address)
        current: list[PointSpec] = []
        start = end = 0
        for p in specs:
            if current and p.address - end <= max_gap and max(end, p.end) - start <= limit:
                current.append(p)
                end = max(end, p.end)
                continue
            if current:
                blocks.append(ReadBlock(table, start, end - start, tuple(current)))
            current, start, end = [p], p.address, p.end
        if current:
            blocks.append(ReadBlock(table, start, end - start, tuple(current)))
    return blocks


def decode_point(spec: PointSpec, words: Sequence[int]) -> int | float | bool | None:
    """Decode one point from exactly its own words (or one bit for coils and discrete inputs).

    None means the device said "no valid reading" (the point's ``invalid_raw``).
    """
    if spec.table in (Table.COIL, Table.DISCRETE) or spec.dtype is DType.BOOL:
        return bool(words[0])
    if len(words) != spec.dtype.words:
        raise RegisterCountError(f"{spec.key}: expected {spec.dtype.words} words, got {len(words)}")
    ordered = list(words) if spec.word_order is WordOrder.BIG else list(reversed(words))
    raw: int | float = struct.unpack(_STRUCT[spec.dtype], struct.pack(f">{len(ordered)}H", *ordered))[0]
    if spec.invalid_raw is not None and raw == spec.invalid_raw:
        return None
    if spec.integer:
        return round(raw * spec.scale)
    if spec.scale == 1.0 and spec.dtype not in (DType.F32, DType.F64):
        return int(raw)
    if isinstance(raw, int):  # a scaled integer register: keep exactly the decimals the scale gives
        return round(raw * spec.scale, _decimals(spec.scale))
    return float(raw) * spec.scale


def _decimals(scale: float) -> int:
    text = f"{scale:.10f}".rstrip("0")
    return len(text.split(".")[1]) if "." in text else 0


def decode_block(block: ReadBlock, words: Sequence[int | bool]) -> dict[str, int | float | bool | None]:
    """Decode every point of a block from the words (or bits) the device returned for it."""
    if len(words) < block.count:
        raise RegisterCountError(f"asked for {block.count} values at {block.start}, got {len(words)}")
    values: dict[str, int | float | bool | None] = {}
    for p in block.points:
        offset = p.address - block.start
        values[p.key] = decode_point(p, [int(w) for w in words[offset:offset + p.count]])
    return values


def encode_point(spec: PointSpec, value: float | int | bool) -> list[int]:
    """Registers to write for a value (the inverse of ``decode_point``)."""
    if spec.table is Table.COIL or spec.dtype is DType.BOOL:
        return [1 if value else 0]
    raw: float | int = value / spec.scale if spec.scale != 1.0 else value
    if spec.dtype not in (DType.F32, DType.F64):
        raw = round(raw)
    try:
        packed = struct.pack(_STRUCT[spec.dtype], raw)
    except struct.error as exc:
        raise ValueError(f"{spec.key}: {value!r} does not fit {spec.dtype.value}") from exc
    words = list(struct.unpack(f">{len(packed) // 2}H", packed))
    return words if spec.word_order is WordOrder.BIG else list(reversed(words))
