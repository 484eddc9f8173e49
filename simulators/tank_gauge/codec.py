"""Veeder-Root TLS serial protocol: framing, checksum, hex floats, timestamps (pure, both sides).

Wire rules (TLS-300/350 serial manual 576013-635, see docs/protocols/tank-gauge-tls.md):

- computer-format answer: ``SOH`` function code (6 chars, e.g. ``i20100``) ``YYMMDDHHmm`` data
  ``&&`` ``CCCC`` ``ETX``, where ``CCCC`` is 4 upper-case hex digits of
  ``(-sum(bytes from SOH through "&&")) & 0xFFFF``: adding it to that byte sum gives 0 mod 2¹⁶;
- display-format answer: ``SOH`` text lines ending in CR LF ``ETX`` (no checksum);
- an unknown command is answered ``SOH 9999FF1B ETX``;
- a float is 8 hex digits of an IEEE-754 single, big-endian (``3F800000`` = 1.0).

The server builds frames with ``build_computer_frame``; a client (the edge adapter) cuts its byte
stream with ``FrameSplitter`` and checks each frame with ``parse_computer_frame``. Record layouts
inside the data are in ``reports``.
"""

from __future__ import annotations

import math
import re
import struct
from dataclasses import dataclass
from datetime import datetime, tzinfo

from simulators.tank_gauge.errors import (
    ChecksumMismatchError,
    MalformedFrameError,
    TruncatedFrameError,
    UnknownCommandError,
)

SOH = 0x01
ETX = 0x03
ESC = 0x1B
CR = 0x0D
LF = 0x0A
DATA_END = b"&&"
UNKNOWN_COMMAND = b"\x019999FF1B\x03"
TIMESTAMP_FORMAT = "%y%m%d%H%M"

_FUNCTION_CODE = re.compile(r"^[iIsS][0-9A-Fa-f]{3}[0-9]{2}$")
_HEX8 = re.compile(r"^[0-9A-Fa-f]{8}$")
_HEX4 = re.compile(r"^[0-9A-Fa-f]{4}$")
_TIMESTAMP = re.compile(r"^[0-9]{10}$")


def is_function_code(text: str) -> bool:
    """``iCCCTT``/``ICCCTT``/``sCCCTT``/``SCCCTT``: a letter, 3 hex-digit code, 2-digit tank."""
    return bool(_FUNCTION_CODE.match(text))


def checksum(data: bytes) -> int:
    """The TLS checksum of ``data`` (SOH through ``&&``): two's complement of the 16-bit sum."""
    return (-sum(data)) & 0xFFFF


def encode_float(value: float) -> str:
    """8 upper-case hex digits of ``value`` as a big-endian IEEE-754 single; 0.0 is ``00000000``."""
    if not math.isfinite(value):
        raise ValueError(f"cannot send {value!r} as a TLS float")
    if value == 0.0:
        return "00000000"
    return struct.pack(">f", value).hex().upper()


def decode_float(text: str) -> float:
    """The float of 8 hex digits (``B8D1B717`` → −0.0001)."""
    if not _HEX8.match(text):
        raise MalformedFrameError(f"expected 8 hex digits for a float, got {text!r}")
    value: float = struct.unpack(">f", bytes.fromhex(text))[0]
    return value


def encode_timestamp(moment: datetime, tz: tzinfo) -> str:
    """``YYMMDDHHmm`` of ``moment`` (aware) on the console's local clock ``tz``."""
    return moment.astimezone(tz).strftime(TIMESTAMP_FORMAT)


def decode_timestamp(text: str, tz: tzinfo) -> datetime:
    """The aware datetime of ``YYMMDDHHmm`` read on a console whose local clock is ``tz``."""
    if not _TIMESTAMP.match(text):
        raise MalformedFrameError(f"expected YYMMDDHHmm, got {text!r}")
    try:
        return datetime.strptime(text + "+0000", TIMESTAMP_FORMAT + "%z").replace(tzinfo=tz)
    except ValueError as error:
        raise MalformedFrameError(f"not a date: {text!r}") from error


def build_computer_frame(function_code: str, data: str) -> bytes:
    """A complete computer-format answer: SOH, code, data (timestamp first), ``&&``, checksum, ETX."""
    head = bytes([SOH]) + (function_code + data).encode("ascii") + DATA_END
    return head + f"{checksum(head):04X}".encode("ascii") + bytes([ETX])


def build_display_frame(function_code: str, lines: list[str]) -> bytes:
    """A display-format answer: a blank line, the code, the report lines, a blank line (CR LF ends)."""
    text = "\r\n" + "\r\n".join([function_code, *lines]) + "\r\n\r\n"
    return bytes([SOH]) + text.encode("utf-8") + bytes([ETX])


@dataclass(frozen=True, slots=True)
class ComputerFrame:
    """A checked computer-format answer cut into its parts (``data`` is after the timestamp)."""

    function_code: str
    timestamp: str
    data: str

    @property
    def tank(self) -> int:
        return int(self.function_code[4:6])


def parse_computer_frame(frame: bytes) -> ComputerFrame:
    """Check one frame (SOH … ETX) and split it; raises a ``TlsProtocolError`` subclass.

    ``UnknownCommandError`` for ``SOH 9999FF1B ETX``, ``TruncatedFrameError`` when SOH or ETX is
    missing, ``ChecksumMismatchError`` when the sum is not zero, ``MalformedFrameError`` otherwise.
    """
    if frame == UNKNOWN_COMMAND:
        raise UnknownCommandError("console answered 9999FF1B (unknown command)")
    if len(frame) < 2 or frame[0] != SOH or frame[-1] != ETX:
        raise TruncatedFrameError(f"frame must run from SOH to ETX, got {frame[:12]!r}…{frame[-6:]!r}")
    end = frame.rfind(DATA_END)
    if end < 0 or len(frame) != end + len(DATA_END) + 4 + 1:
        raise MalformedFrameError("no '&&' followed by 4 checksum digits before ETX")
    try:
        text = frame[1:end].decode("ascii")
        sent = frame[end + 2 : end + 6].decode("ascii")
    except UnicodeDecodeError as error:
        raise MalformedFrameError("non-ASCII bytes in a computer-format frame") from error
    if not _HEX4.match(sent):
        raise MalformedFrameError(f"checksum must be 4 hex digits, got {sent!r}")
    if (sum(frame[: end + 2]) + int(sent, 16)) & 0xFFFF:
        raise ChecksumMismatchError(f"checksum {sent} does not match (expected {checksum(frame[:end + 2]):04X})")
    if len(text) < 16 or not is_function_code(text[:6]) or not _TIMESTAMP.match(text[6:16]):
        raise MalformedFrameError(f"expected function code and YYMMDDHHmm, got {text[:16]!r}")
    return ComputerFrame(text[:6], text[6:16], text[16:])


class FrameSplitter:
    """Cuts a client's received byte stream into SOH … ETX frames.

    Bytes outside a frame are skipped and counted in ``skipped``; a frame cut short by a new SOH
    is dropped and counted in ``dropped`` (a truncated answer followed by the next one).
    """

    def __init__(self, max_frame: int = 65536) -> None:
        self._buffer = bytearray()
        self._in_frame = False
        self._max_frame = max_frame
        self.skipped = 0
        self.dropped = 0

    def feed(self, data: bytes) -> list[bytes]:
        frames: list[bytes] = []
        for byte in data:
            if byte == SOH:
                if self._in_frame:
                    self.dropped += 1
                self._buffer = bytearray([SOH])
                self._in_frame = True
            elif not self._in_frame:
                self.skipped += 1
            else:
                self._buffer.append(byte)
                if byte == ETX:
                    frames.append(bytes(self._buffer))
                    self._in_frame = False
                elif len(self._buffer) > self._max_frame:
                    self.dropped += 1
                    self._in_frame = False
        return frames

    @property
    def pending(self) -> bytes:
        """The start of a frame still waiting for its ETX (empty between frames)."""
        return bytes(self._buffer) if self._in_frame else b""
