"""Reading TLS commands from a byte stream: SOH, security code, function code, data, ESC, CR LF."""

from __future__ import annotations

import pytest

from simulators.tank_gauge.commands import ABORT, BadCommand, Command, CommandReader, ReaderEvent


def _events(chunks: list[bytes], security_code: str | None = None) -> list[ReaderEvent]:
    reader = CommandReader(security_code)
    return [event for chunk in chunks for event in reader.feed(chunk)]


@pytest.mark.parametrize(
    ("chunks", "expected"),
    [
        ([b"\x01i20100"], [Command("i20100")]),
        ([b"\x01i20100\r\n"], [Command("i20100")]),  # trailing CR LF tolerated
        ([b"\x01i2", b"01", b"03"], [Command("i20103")]),  # split across reads
        ([b"\x01i20100\x01I20100\r\n\x01i10100"], [Command("i20100"), Command("I20100"), Command("i10100")]),
        ([b"noise\r\n\x01i20500"], [Command("i20500")]),  # bytes outside a command ignored
        ([b"\x01s501002601151430"], [Command("s50100", "2601151430")]),  # fixed-length data
        ([b"\x01i11A00"], [Command("i11A00")]),  # hex letters in the function number
        ([b"\x01i20\x01i20101"], [Command("i20101")]),  # a new SOH restarts the command
        ([b"\x01i20\x1b\x01i20101"], [ABORT, Command("i20101")]),
        ([b"\x01i201\r\n"], [BadCommand(b"\x01i201")]),  # cut short by CR
        ([b"\x01x20100"], []),  # not a function code: may be a security code, wait for more
        ([b"\x01x20100\r\n"], [BadCommand(b"\x01x20100")]),
        ([b"\x01i201AB\r"], [BadCommand(b"\x01i201AB")]),  # tank must be 2 digits
        ([b"\x01ABC123i20100"], [Command("i20100")]),  # a security code nobody asked for
        ([b"\x01ABC123x20100"], [BadCommand(b"\x01ABC123x20100")]),
    ],
)
def test_reader_without_security_code(chunks: list[bytes], expected: list[ReaderEvent]) -> None:
    assert _events(chunks) == expected


@pytest.mark.parametrize(
    ("chunks", "expected"),
    [
        ([b"\x01SECRETi20100"], [Command("i20100")]),
        ([b"\x01SECRE", b"Ti201", b"01\r\n"], [Command("i20101")]),
        ([b"\x01i20100"], [BadCommand(b"\x01i20100")]),  # code missing
        ([b"\x01SECRExi20100"], [BadCommand(b"\x01SECREx")]),  # wrong code
    ],
)
def test_reader_with_security_code(chunks: list[bytes], expected: list[ReaderEvent]) -> None:
    assert _events(chunks, "SECRET") == expected


def test_command_fields() -> None:
    command = Command("I20203")
    assert command.display
    assert not command.is_set
    assert command.code == "202"
    assert command.tank == 3
    assert not Command("i20100").display
    assert Command("s50100", "2601151430").is_set
