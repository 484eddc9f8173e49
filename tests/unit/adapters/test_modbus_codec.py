"""Modbus codec from register tables: request planning, every type and word order, bad lengths."""

import pytest

from protocol_adapters.modbus.codec import (
    MAX_REGISTERS_PER_READ,
    RegisterCountError,
    decode_block,
    decode_point,
    encode_point,
    plan_reads,
)
from protocol_adapters.modbus.points import DType, PointSpec, Table, WordOrder
from protocol_adapters.modbus.profiles import dispenser_v1


def test_contiguous_points_share_one_request_and_gaps_split() -> None:
    points = [PointSpec("a", 0), PointSpec("b", 1, DType.U32), PointSpec("c", 3), PointSpec("far", 500)]
    blocks = plan_reads(points, max_gap=8)
    assert [(b.start, b.count) for b in blocks] == [(0, 4), (500, 1)]


def test_tables_are_never_mixed_and_the_per_request_limit_holds() -> None:
    points = [PointSpec(f"h{i}", i) for i in range(300)] + [PointSpec("i", 0, table=Table.INPUT)]
    blocks = plan_reads(points)
    assert all(b.count <= MAX_REGISTERS_PER_READ for b in blocks)
    assert {b.table for b in blocks} == {Table.HOLDING, Table.INPUT}
    assert sum(len(b.points) for b in blocks) == 301


def test_dispenser_profile_reads_in_few_requests() -> None:
    blocks = plan_reads(dispenser_v1(2, 2))
    assert len(blocks) == 3  # device block, FP1, FP2


@pytest.mark.parametrize(("spec", "words", "value"), [
    (PointSpec("u16", 0), [65535], 65535),
    (PointSpec("i16", 0, DType.I16), [0xFFFE], -2),
    (PointSpec("u32", 0, DType.U32), [0x0001, 0x81CD], 98765),
    # low word first (Franklin evo style): 98765 = 0x000181CD
    (PointSpec("u32le", 0, DType.U32, word_order=WordOrder.LITTLE), [0x81CD, 0x0001], 98765),
    (PointSpec("i32", 0, DType.I32), [0xFFFF, 0xFFFF], -1),
    (PointSpec("f32", 0, DType.F32), [0x4141, 0x999A], pytest.approx(12.1, rel=1e-6)),
    (PointSpec("vol", 0, DType.U32, scale=0.01), [0x0000, 0x04D2], 12.34),
    (PointSpec("vol", 0, DType.U32, scale=0.01), [0, 1403], 14.03),  # not 14.030000000000001
    (PointSpec("u64", 0, DType.U64, scale=0.01), [0, 1, 0, 0], pytest.approx(2**32 * 0.01)),
    (PointSpec("fen", 0, DType.U32, integer=True), [0, 789], 789),
    (PointSpec("flag", 0, DType.BOOL), [1], True),
])
def test_decode_point(spec: PointSpec, words: list[int], value: object) -> None:
    assert decode_point(spec, words) == value


@pytest.mark.parametrize("spec", [
    PointSpec("v", 0, DType.U32, scale=0.01), PointSpec("t", 0, DType.I32, word_order=WordOrder.LITTLE),
    PointSpec("f", 0, DType.F32), PointSpec("q", 0, DType.U64, integer=True),
])
def test_encode_is_the_inverse_of_decode(spec: PointSpec) -> None:
    value = 1234.56 if spec.scale != 1 else (-42 if spec.dtype is DType.I32 else 12345)
    assert decode_point(spec, encode_point(spec, value)) == pytest.approx(value)


def test_out_of_range_write_is_refused() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        encode_point(PointSpec("p", 0, DType.U16), 70000)


def test_short_answer_is_an_error_not_a_wrong_value() -> None:
    block = plan_reads([PointSpec("a", 0), PointSpec("b", 1, DType.U32)])[0]
    with pytest.raises(RegisterCountError):
        decode_block(block, [1, 2])
    assert decode_block(block, [1, 0, 2]) == {"a": 1, "b": 2}
