"""TLS computer-format framing, pure: command frames out; answers cut from a byte stream, checked and split.

A command is ``SOH [security code] function-code [data]`` with no terminator. An answer is
``SOH function-code YYMMDDHHmm data && CCCC ETX`` where ``CCCC`` makes the 16-bit sum of every byte
from ``SOH`` through ``&&`` zero. ``SOH 9999FF1B ETX`` means "unknown command" (or a wrong security
code). Floats are IEEE-754 single precision, big-endian, as 8 hex digits.

``FrameSplitter`` takes whatever the line delivers and hands back complete ``SOH … ETX`` frames and
``Skipped`` runs (garbage between frames, a frame cut short by the next ``SOH``, an oversize run):
a bad stretch is counted and dropped, the good frames before and after it still come through.
``parse_answer`` checks one frame and raises a ``FrameError`` (checksum, truncated, malformed) or
``UnknownCommand``; it never returns half-checked data.
"""

from __future__ import annotations

import math
import re
import struct
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

SOH = 0x01
ETX = 0x03
ESC = 0x1B
DATA_END = b"&&"
UNKNOWN_COMMAND = b"\x019999FF1B\x03"
MAX_COMMAND_CHARS = 128            # the console's input buffer
MAX_FRAME_BYTES = 256 * 1024       # longer than any report of 99 tanks; beyond it a run is dropped
_IGNORABLE = frozenset(b"\r\n\x00 \t")  # between frames: line ends and NUL padding are not garbage

_FUNCTION_CODE = re.compile(r"^[iIsS][0-9A-Fa-f]{3}[0-9]{2}$")
_SECURITY_CODE = re.compile(r"^[\x21-\x7e]{6}$")
_COMMAND_DATA = re.compile(r"^[\x20-\x7e]*$")


class TlsError(ValueError):
    """Base of what the TLS codec refuses; ``kind`` is a short code for counting."""

    kind = "tls-error"


class FrameError(TlsError):
    """An answer frame that cannot be trusted (counted as a bad frame)."""

    kind = "malformed"


class ChecksumError(FrameError):
    kind = "checksum"


class TruncatedFrame(FrameError):
    kind = "truncated"


class MalformedFrame(FrameError):
    kind = "malformed"


class UnknownCommand(TlsError):
    """The console answered ``9999FF1B``: unknown function or tank, bad data, or a wrong security code."""

    kind = "unknown-command"


@dataclass(frozen=True, slots=True)
class Answer:
    """One checked computer-format answer. ``console_time`` is the console's local time (naive)."""

    function_code: str
    console_time: datetime
    data: str


@dataclass(frozen=True, slots=True)
class Skipped:
    """Bytes the splitter dropped: ``garbage`` between frames, a ``truncated`` frame, an ``oversize`` run."""

    kind: str
    raw: bytes


def command(function_code: str, security_code: str | None = None, data: str = "") -> bytes:
    """The bytes of one command, e.g. ``command("i20100")`` → ``b"\\x01i20100"``."""
    if not _FUNCTION_CODE.match(function_code):
        raise ValueError(f"not a TLS function code: {function_code!r} (expected e.g. 'i20100')")
    if security_code is not None and not _SECURITY_CODE.match(security_code):
        raise ValueError("a security code is exactly 6 printable ASCII characters")
    if not _COMMAND_DATA.match(data):
        raise ValueError(f"command data must be printable ASCII: {data!r}")
    text = (security_code or "") + function_code + data
    if len(text) > MAX_COMMAND_CHARS:
        raise ValueError(f"a command is at most {MAX_COMMAND_CHARS} characters")
    return bytes([SOH]) + text.encode("ascii")


def checksum(body: bytes) -> int:
    """``CCCC`` for ``body`` = ``SOH`` … ``&&``: the 16-bit two's complement of the byte sum."""
    return (-sum(body)) & 0xFFFF


def hex_float(text: str) -> float:
    """An 8-hex-digit IEEE-754 single, rounded to the 7 significant digits a single carries.

    ``4141999A`` → 12.1 (not 12.100000381…). NaN and infinities come back as they are; the
    caller decides what a non-finite reading means.
    """
    if len(text) != 8:
        raise MalformedFrame(f"a float is 8 hex digits, got {text!r}")
    try:
        value: float = struct.unpack(">f", bytes.fromhex(text))[0]
    except ValueError as exc:
        raise MalformedFrame(f"not a hex float: {text!r}") from exc
    if not math.isfinite(value):
        return value
    return float(f"{value:.7g}") + 0.0  # + 0.0 turns −0.0 into 0.0


def parse_timestamp(text: str) -> datetime:
    """``YYMMDDHHmm`` (console local time) → a naive datetime."""
    if len(text) != 10 or not (text.isascii() and text.isdigit()):
        raise MalformedFrame(f"expected YYMMDDHHmm, got {text!r}")
    try:
        return datetime(2000 + int(text[0:2]), int(text[2:4]), int(text[4:6]),  # noqa: DTZ001 - console local time
                        int(text[6:8]), int(text[8:10]))
    except ValueError as exc:
        raise MalformedFrame(f"not a date and time: {text!r}") from exc


def parse_answer(frame: bytes) -> Answer:
    """Check one ``SOH … ETX`` frame (checksum first) and split it into code, console time and data."""
    if frame == UNKNOWN_COMMAND:
        raise UnknownCommand("the console answered 9999FF1B")
    if frame[:1] != bytes([SOH]):
        raise MalformedFrame("an answer starts with SOH")
    if frame[-1:] != bytes([ETX]):
        raise TruncatedFrame(f"no ETX after {len(frame)} bytes")
    end = frame.rfind(DATA_END)
    if end < 0:
        raise MalformedFrame("no '&&' before the checksum (display format or not a TLS answer)")
    digits = frame[end + 2 : -1]
    if len(digits) != 4:
        raise MalformedFrame(f"expected 4 checksum digits after '&&', got {len(digits)}")
    try:
        sent = int(digits.decode("ascii"), 16)
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedFrame(f"checksum is not hex: {digits!r}") from exc
    if (sum(frame[: end + 2]) + sent) & 0xFFFF:
        raise ChecksumError(f"checksum {sent:04X} does not match {checksum(frame[: end + 2]):04X}")
    try:
        text = frame[1:end].decode("ascii")
    except UnicodeDecodeError as exc:
        raise MalformedFrame("an answer is ASCII") from exc
    if len(text) < 16:
        raise MalformedFrame(f"expected a function code and YYMMDDHHmm, got {text!r}")
    code = text[:6]
    if not _FUNCTION_CODE.match(code):
        raise MalformedFrame(f"not a function code: {code!r}")
    return Answer(code, parse_timestamp(text[6:16]), text[16:])


class FrameSplitter:
    """Cuts ``SOH … ETX`` frames out of a byte stream; counts what it drops in ``skipped``."""

    def __init__(self, max_frame_bytes: int = MAX_FRAME_BYTES) -> None:
        self._max = max_frame_bytes
        self._frame = bytearray()   # the frame being received, from its SOH
        self._junk = bytearray()    # bytes outside any frame, until the next SOH
        self.skipped: Counter[str] = Counter()

    @property
    def pending(self) -> bool:
        """True while bytes are held that may yet be counted: a partial frame, or junk before the next SOH."""
        return bool(self._frame) or not set(self._junk) <= _IGNORABLE

    def feed(self, data: bytes) -> list[bytes | Skipped]:
        out: list[bytes | Skipped] = []
        view = bytes(data)
        while view:
            if not self._frame:
                start = view.find(SOH)
                if start < 0:
                    self._add_junk(view, out)
                    break
                self._add_junk(view[:start], out)
                self._end_junk(out)
                self._frame.append(SOH)
                view = view[start + 1 :]
                continue
            stop = _first_of(view, (ETX, SOH))
            if stop < 0:
                self._frame += view
                if len(self._frame) > self._max:
                    self._skip("oversize", bytes(self._frame), out)
                    self._frame.clear()
                break
            if view[stop] == ETX:
                self._frame += view[: stop + 1]
                out.append(bytes(self._frame))
                self._frame.clear()
                view = view[stop + 1 :]
            else:  # a new SOH before the ETX: the frame in hand was cut short
                self._frame += view[:stop]
                self._skip("truncated", bytes(self._frame), out)
                self._frame.clear()
                view = view[stop:]
        return out

    def flush(self) -> Skipped | None:
        """Drop what is held (the answer will not be completed): a truncated frame or garbage."""
        out: list[bytes | Skipped] = []
        if self._frame:
            self._skip("truncated", bytes(self._frame), out)
            self._frame.clear()
        self._end_junk(out)
        first = out[0] if out else None
        return first if isinstance(first, Skipped) else None

    def _add_junk(self, data: bytes, out: list[bytes | Skipped]) -> None:
        self._junk += data
        if len(self._junk) > self._max:
            self._end_junk(out)

    def _end_junk(self, out: list[bytes | Skipped]) -> None:
        if self._junk and not set(self._junk) <= _IGNORABLE:
            self._skip("garbage", bytes(self._junk), out)
        self._junk.clear()

    def _skip(self, kind: str, raw: bytes, out: list[bytes | Skipped]) -> None:
        self.skipped[kind] += 1
        out.append(Skipped(kind, raw))


def _first_of(data: bytes, markers: tuple[int, ...]) -> int:
    found = [i for i in (data.find(m) for m in markers) if i >= 0]
    return min(found) if found else -1
