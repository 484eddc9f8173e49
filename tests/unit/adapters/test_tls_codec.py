"""TLS framing from byte tables: commands, checksum, floats, answers, and cutting frames out of a stream."""

from __future__ import annotations

import math
from datetime import datetime

import pytest

from protocol_adapters.tls.codec import (
    UNKNOWN_COMMAND,
    ChecksumError,
    FrameSplitter,
    MalformedFrame,
    Skipped,
    TruncatedFrame,
    UnknownCommand,
    checksum,
    command,
    hex_float,
    parse_answer,
)
from protocol_adapters.tls.reports import TankStatus, decode_inventory

# domain.md §1.1 and docs/protocols/tank-gauge-tls.md §3: two tanks, tank 2 with a delivery in progress
EXAMPLE = (b"\x01i201002501151430"
           b"011000007" b"4690B800468FAF334633500044E78CCD4141999A41BC000042353333"
           b"022000107" b"460CA000460C00CD46A41000447F00000000000041A8000000000000"
           b"&&E1A0\x03")


def frame(body: str | bytes) -> bytes:
    """A computer-format answer around ``body`` (code + time + data), checksum computed."""
    head = b"\x01" + (body.encode("ascii") if isinstance(body, str) else body) + b"&&"
    return head + f"{checksum(head):04X}".encode("ascii") + b"\x03"


def test_the_verified_example_frame_checks_and_decodes() -> None:
    answer = parse_answer(EXAMPLE)
    assert answer.function_code == "i20100"
    assert answer.console_time == datetime(2025, 1, 15, 14, 30)  # noqa: DTZ001 - console local time
    tank1, tank2 = decode_inventory(answer.data)
    assert (tank1.tank, tank1.product_code, tank1.status) == (1, "1", TankStatus.NONE)
    assert (tank1.volume_l, tank1.tc_volume_l, tank1.ullage_l, tank1.height_mm, tank1.water_mm,
            tank1.temperature_c, tank1.water_volume_l) == (18524.0, 18391.6, 11476.0, 1852.4, 12.1, 23.5, 45.3)
    assert tank2.status == TankStatus.DELIVERY_IN_PROGRESS
    assert (tank2.volume_l, tank2.tc_volume_l, tank2.ullage_l, tank2.height_mm, tank2.water_mm,
            tank2.temperature_c, tank2.water_volume_l) == (9000.0, 8960.2, 21000.0, 1020.0, 0.0, 21.0, 0.0)


def test_our_checksum_reproduces_the_example_and_the_unknown_command_answer() -> None:
    assert checksum(EXAMPLE[: EXAMPLE.index(b"&&") + 2]) == 0xE1A0
    assert checksum(b"\x019999") == 0xFF1B
    assert frame("i20100" + "2501151430" + EXAMPLE.decode()[17:-7]) == EXAMPLE


@pytest.mark.parametrize(("args", "expected"), [
    (("i20100",), b"\x01i20100"),
    (("i20103",), b"\x01i20103"),
    (("I20200",), b"\x01I20200"),
    (("i11A00",), b"\x01i11A00"),
    (("i20100", "ABC123"), b"\x01ABC123i20100"),
    (("s50100", None, "2601151430"), b"\x01s501002601151430"),
])
def test_command_frames(args: tuple[str, ...], expected: bytes) -> None:
    assert command(*args) == expected


@pytest.mark.parametrize(("code", "security"), [
    ("i2010", None), ("x20100", None), ("i201AA", None), ("i20100\r", None),
    ("i20100", "ABC12"), ("i20100", "ABC 12"), ("i20100", "ABC1234"),
])
def test_bad_commands_are_refused_before_the_wire(code: str, security: str | None) -> None:
    with pytest.raises(ValueError):
        command(code, security)


@pytest.mark.parametrize(("text", "value"), [
    ("3F800000", 1.0), ("B8D1B717", -0.0001), ("C2C7FAE1", -99.99), ("461C4000", 10000.0),
    ("00000000", 0.0), ("4141999A", 12.1), ("468FAF33", 18391.6), ("44E78CCD", 1852.4),
])
def test_hex_floats_from_the_manual(text: str, value: float) -> None:
    assert hex_float(text) == value


def test_negative_zero_is_zero_and_nan_is_passed_on() -> None:
    assert math.copysign(1.0, hex_float("80000000")) == 1.0
    assert math.isnan(hex_float("7FC00000"))


@pytest.mark.parametrize("text", ["4141999", "4141999A0", "4141999G", "41 1999A"])
def test_bad_hex_floats(text: str) -> None:
    with pytest.raises(MalformedFrame):
        hex_float(text)


def _spoil(at: int, byte: bytes, source: bytes = EXAMPLE) -> bytes:
    return source[:at] + byte + source[at + 1:]


@pytest.mark.parametrize(("raw", "error"), [
    (_spoil(30, b"5"), ChecksumError),                      # a data digit changed on the line
    (EXAMPLE.replace(b"&&E1A0", b"&&E1A1"), ChecksumError),  # the simulator's corrupt-checksum fault
    (EXAMPLE[:-1], TruncatedFrame),                          # no ETX
    (EXAMPLE[:40], TruncatedFrame),
    (EXAMPLE.replace(b"&&", b"%%"), MalformedFrame),         # no checksum marker
    (EXAMPLE.replace(b"&&E1A0", b"&&E1A"), MalformedFrame),  # 3 checksum digits
    (EXAMPLE.replace(b"&&E1A0", b"&&E1AZ"), MalformedFrame),
    (b"i20100" + EXAMPLE[1:], MalformedFrame),               # no SOH
    (b"\x01\r\ni20100\r\n\r\n\x03", MalformedFrame),         # display format
    (frame(b"i201002501151430\xe9"), MalformedFrame),                 # not ASCII, checksum right
    (frame("i20100251315143001"), MalformedFrame),           # month 13
    (frame("i2010025011514"), MalformedFrame),               # header cut short
    (frame("x201002501151430"), MalformedFrame),             # not a function code
])
def test_bad_answers_raise_the_matching_error(raw: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        parse_answer(raw)


def test_unknown_command_answer() -> None:
    assert bytes.fromhex("01393939394646314203") == UNKNOWN_COMMAND
    with pytest.raises(UnknownCommand):
        parse_answer(UNKNOWN_COMMAND)


def test_header_only_answer_has_empty_data() -> None:
    answer = parse_answer(frame("i501002601011015"))
    assert (answer.function_code, answer.data) == ("i50100", "")


GOOD2 = frame("i205002501151430" + "0100")


@pytest.mark.parametrize(("stream", "frames", "skipped"), [
    (EXAMPLE + GOOD2, [EXAMPLE, GOOD2], []),
    (b"\r\n" + EXAMPLE + b"\r\n\x00\x00" + GOOD2 + b"\r\n", [EXAMPLE, GOOD2], []),  # line ends are not garbage
    (b"\xfe\x10junk" + EXAMPLE, [EXAMPLE], ["garbage"]),
    (EXAMPLE + b"\x88\x99\x77" + GOOD2, [EXAMPLE, GOOD2], ["garbage"]),
    (EXAMPLE[:50] + GOOD2, [GOOD2], ["truncated"]),                  # cut short by the next SOH
    (GOOD2 + EXAMPLE[:50] + b"zz" + EXAMPLE, [GOOD2, EXAMPLE], ["truncated"]),
    (b"\x03\x03" + GOOD2, [GOOD2], ["garbage"]),                    # stray ETX outside a frame
])
def test_splitter_keeps_good_frames_around_bad_stretches(stream: bytes, frames: list[bytes],
                                                         skipped: list[str]) -> None:
    for chunk_size in (len(stream), 1, 7):    # however the line delivers the bytes
        splitter = FrameSplitter()
        out = []
        for i in range(0, len(stream), chunk_size):
            out += splitter.feed(stream[i : i + chunk_size])
        assert [x for x in out if isinstance(x, bytes)] == frames
        assert [x.kind for x in out if isinstance(x, Skipped)] == skipped
        assert sum(splitter.skipped.values()) == len(skipped)
        assert not splitter.pending


def test_flush_reports_what_never_became_a_frame() -> None:
    splitter = FrameSplitter()
    assert splitter.feed(EXAMPLE[:60]) == []
    assert splitter.pending
    dropped = splitter.flush()
    assert dropped is not None and dropped.kind == "truncated" and dropped.raw == EXAMPLE[:60]
    assert splitter.feed(b"\x9a\x7f\x42 garbage without markers") == []
    dropped = splitter.flush()
    assert dropped is not None and dropped.kind == "garbage"
    assert splitter.feed(b"\r\n") == [] and splitter.flush() is None
    assert splitter.feed(GOOD2) == [GOOD2]
    assert splitter.skipped == {"truncated": 1, "garbage": 1}


def test_an_endless_frame_is_dropped_as_oversize() -> None:
    splitter = FrameSplitter(max_frame_bytes=100)
    out = splitter.feed(b"\x01" + b"7" * 150)
    assert [x.kind for x in out if isinstance(x, Skipped)] == ["oversize"]
    assert splitter.feed(GOOD2) == [GOOD2]
