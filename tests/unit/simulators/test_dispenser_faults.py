"""Dispenser link faults: malformed MBAP replies from byte tables, and fault counting."""

from __future__ import annotations

import random

import pytest

from simulators.dispenser.faults import DispenserFaults, GarbageKind, corrupt_frame

# A real FC03 reply: tid 0x0007, protocol 0, length 7, unit 1, FC 3, 4 bytes, registers [1, 2].
REPLY = bytes.fromhex("0007 0000 0007 01 03 04 0001 0002".replace(" ", ""))

CORRUPTIONS = [
    (GarbageKind.BAD_PROTOCOL_ID, bytes.fromhex("0007 dead 0007 01 03 04 0001 0002".replace(" ", ""))),
    (GarbageKind.BAD_LENGTH, bytes.fromhex("0007 0000 000a 01 03 04 0001 0002".replace(" ", ""))),
    (GarbageKind.TRUNCATED, bytes.fromhex("0007 0000 0007".replace(" ", ""))),
    (GarbageKind.WRONG_TRANSACTION_ID, bytes.fromhex("5a5d 0000 0007 01 03 04 0001 0002".replace(" ", ""))),
]


@pytest.mark.parametrize(("kind", "expected"), CORRUPTIONS, ids=[k for k, _ in CORRUPTIONS])
def test_corrupt_frame_byte_tables(kind: GarbageKind, expected: bytes) -> None:
    assert corrupt_frame(REPLY, kind, random.Random(0)) == expected


def test_random_garbage_is_as_long_as_the_reply_and_repeatable() -> None:
    first = corrupt_frame(REPLY, GarbageKind.RANDOM_BYTES, random.Random(3))
    assert len(first) == len(REPLY) and first != REPLY
    assert first == corrupt_frame(REPLY, GarbageKind.RANDOM_BYTES, random.Random(3))


def test_read_exceptions_fire_count_times_then_stop() -> None:
    faults = DispenserFaults()
    assert faults.take_read_exception() is None
    faults.fail_reads(6, count=2)
    assert [faults.take_read_exception() for _ in range(3)] == [6, 6, None]
    assert faults.counters.failed_reads == 2


def test_garbage_until_cleared() -> None:
    faults = DispenserFaults(random.Random(1))
    faults.garbage_replies(GarbageKind.TRUNCATED)
    assert [len(faults.outgoing(REPLY)) for _ in range(3)] == [6, 6, 6]  # 13 bytes cut in half
    faults.clear()
    assert faults.outgoing(REPLY) == REPLY
    assert faults.counters.corrupted_replies == 3


@pytest.mark.parametrize(
    "inject",
    [lambda f: f.fail_reads(7 + 2), lambda f: f.fail_reads(4, count=0), lambda f: f.slow_answers(-1),
     lambda f: f.garbage_replies(GarbageKind.TRUNCATED, count=0), lambda f: f.garbage_replies("noise")],
    ids=["code-9", "count-0", "negative-delay", "garbage-count-0", "unknown-kind"],
)
def test_nonsense_injections_are_rejected(inject: object) -> None:
    with pytest.raises(ValueError):
        inject(DispenserFaults())  # type: ignore[operator]
