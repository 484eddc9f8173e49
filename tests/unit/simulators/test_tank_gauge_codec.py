"""TLS framing from byte tables: checksum, hex floats, the verified example frame, bad frames."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from simulators.tank_gauge.codec import (
    UNKNOWN_COMMAND,
    FrameSplitter,
    build_computer_frame,
    build_display_frame,
    checksum,
    decode_float,
    decode_timestamp,
    encode_float,
    encode_timestamp,
    parse_computer_frame,
)
from simulators.tank_gauge.errors import (
    ChecksumMismatchError,
    MalformedFrameError,
    TlsProtocolError,
    TruncatedFrameError,
    UnknownCommandError,
)

CST = timezone(timedelta(hours=8))

# domain.md §1.1, generated and checked: two tanks, metric, tank 2 with the delivery bit set.
VERIFIED_FRAME = (
    b"\x01i201002501151430"
    b"0110000074690B800468FAF334633500044E78CCD4141999A41BC000042353333"
    b"022000107460CA000460C00CD46A41000447F00000000000041A8000000000000"
    b"&&E1A0\x03"
)

MANUAL_FLOATS = [
    ("3F800000", 1.0),
    ("B8D1B717", -0.0001),
    ("C2C7FAE1", -99.99),
    ("461C4000", 10000.0),
    ("00000000", 0.0),
]


def test_checksum_of_the_manuals_unknown_command_example() -> None:
    assert checksum(b"\x019999") == 0xFF1B
    assert UNKNOWN_COMMAND == b"\x01" + b"9999" + b"FF1B" + b"\x03"


def test_verified_frame_sums_to_zero_with_its_checksum() -> None:
    assert (sum(VERIFIED_FRAME[:-5]) + 0xE1A0) & 0xFFFF == 0
    assert checksum(VERIFIED_FRAME[:-5]) == 0xE1A0


@pytest.mark.parametrize(("text", "value"), MANUAL_FLOATS)
def test_decode_float_examples_of_the_manual(text: str, value: float) -> None:
    assert decode_float(text) == pytest.approx(value, rel=1e-6)


@pytest.mark.parametrize(("text", "value"), MANUAL_FLOATS)
def test_encode_float_gives_the_manuals_hex(text: str, value: float) -> None:
    assert encode_float(value) == text


def test_negative_zero_is_sent_as_zero_and_nan_is_refused() -> None:
    assert encode_float(-0.0) == "00000000"
    with pytest.raises(ValueError):
        encode_float(float("nan"))


@pytest.mark.parametrize("text", ["3F80000", "3F80000G", "", "3F8000000"])
def test_decode_float_refuses_what_is_not_8_hex_digits(text: str) -> None:
    with pytest.raises(MalformedFrameError):
        decode_float(text)


def test_timestamp_is_console_local_time() -> None:
    moment = datetime(2025, 1, 15, 6, 30, tzinfo=UTC)
    assert encode_timestamp(moment, CST) == "2501151430"
    assert decode_timestamp("2501151430", CST) == moment
    with pytest.raises(MalformedFrameError):
        decode_timestamp("2513151430", CST)  # month 13


def test_build_computer_frame_matches_the_verified_frame() -> None:
    data = VERIFIED_FRAME[7:-7].decode("ascii")
    assert build_computer_frame("i20100", data) == VERIFIED_FRAME


def test_parse_verified_frame() -> None:
    frame = parse_computer_frame(VERIFIED_FRAME)
    assert frame.function_code == "i20100"
    assert frame.timestamp == "2501151430"
    assert frame.tank == 0
    assert frame.data.startswith("0110000074690B800")
    assert frame.data.endswith("0000000000")


def _with_byte(frame: bytes, index: int, value: bytes) -> bytes:
    return frame[:index] + value + frame[index + 1 :]


@pytest.mark.parametrize(
    ("frame", "error"),
    [
        (UNKNOWN_COMMAND, UnknownCommandError),
        (VERIFIED_FRAME[:-1], TruncatedFrameError),  # no ETX
        (VERIFIED_FRAME[:40], TruncatedFrameError),  # cut in the middle
        (VERIFIED_FRAME[1:], TruncatedFrameError),  # no SOH
        (VERIFIED_FRAME.replace(b"&&E1A0", b"&&E1A1"), ChecksumMismatchError),
        (_with_byte(VERIFIED_FRAME, 30, b"5"), ChecksumMismatchError),  # one data digit changed
        (VERIFIED_FRAME.replace(b"&&E1A0", b"&&E1AZ"), MalformedFrameError),
        (VERIFIED_FRAME.replace(b"&&E1A0", b"E1A0"), MalformedFrameError),  # no &&
        (build_computer_frame("i20100", "25011514"), MalformedFrameError),  # short timestamp
        (build_computer_frame("x20100", "2501151430"), MalformedFrameError),  # not a function code
        (b"\x01\xff\xfe&&0000\x03", MalformedFrameError),
    ],
)
def test_parse_rejects_bad_frames(frame: bytes, error: type[TlsProtocolError]) -> None:
    with pytest.raises(error):
        parse_computer_frame(frame)


def test_display_frame_has_crlf_lines_and_blank_first_and_last_lines() -> None:
    frame = build_display_frame("I20100", ["JAN 15, 2025  2:30 PM", "TANK"])
    assert frame == b"\x01\r\nI20100\r\nJAN 15, 2025  2:30 PM\r\nTANK\r\n\r\n\x03"


def test_splitter_cuts_frames_skips_junk_and_drops_truncated_ones() -> None:
    splitter = FrameSplitter()
    first = VERIFIED_FRAME
    stream = b"\r\nxx" + first[:25] + first + UNKNOWN_COMMAND[:3]
    frames = splitter.feed(stream[:10]) + splitter.feed(stream[10:])
    assert frames == [first]
    assert splitter.skipped == 4
    assert splitter.dropped == 1  # the first 25 bytes, cut short by a new SOH
    assert splitter.pending == UNKNOWN_COMMAND[:3]
    assert splitter.feed(UNKNOWN_COMMAND[3:]) == [UNKNOWN_COMMAND]

