"""Reading TLS commands out of a byte stream (pure): ``SOH [security code] iCCCTT [data]``.

The console has no command terminator: a command is complete when its 6-character function
code (and the fixed-length data some commands take) has arrived. Around that the reader is
tolerant, as TLS-on-TCP clients vary:

- bytes outside a command (a trailing CR LF, line noise) are ignored;
- a new SOH restarts the command being read; ``ESC`` abandons it and aborts the answer in
  progress (the reader reports an ``ABORT`` event);
- CR or LF before the command is complete, a function code that is not ``[iIsS]HHHDD``, or a
  wrong security code make a ``BadCommand`` (answered ``9999FF1B``);
- with no security code configured, 6 characters that are not a function code are taken as a
  security code the client sent anyway, and the function code is read after them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from simulators.tank_gauge.codec import CR, ESC, LF, SOH, is_function_code

# Characters of data that follow the function code, by its first four characters.
COMMAND_DATA_LENGTH: dict[str, int] = {"s501": 10, "S501": 10}
MAX_COMMAND_LENGTH = 128  # the console's input buffer


@dataclass(frozen=True, slots=True)
class Command:
    """One complete command: function code such as ``i20100`` and its data (often empty)."""

    function_code: str
    data: str = ""

    @property
    def display(self) -> bool:
        """Upper-case ``I``/``S``: answer in display (human-readable) format."""
        return self.function_code[0] in "IS"

    @property
    def code(self) -> str:
        """The 3-character function number, upper-cased (``201``, ``11A``)."""
        return self.function_code[1:4].upper()

    @property
    def is_set(self) -> bool:
        return self.function_code[0] in "sS"

    @property
    def tank(self) -> int:
        """``TT``: the tank or device number, 0 for all."""
        return int(self.function_code[4:6])


@dataclass(frozen=True, slots=True)
class BadCommand:
    """Bytes that started as a command but are not one (answered ``9999FF1B``)."""

    raw: bytes


class Abort(Enum):
    """``ESC`` received: drop the answer in progress and anything queued."""

    ABORT = "abort"


ABORT = Abort.ABORT
ReaderEvent = Command | BadCommand | Abort


class CommandReader:
    """Feeds on received bytes, yields complete commands, bad commands and aborts, in order."""

    def __init__(self, security_code: str | None = None) -> None:
        self._security_code = security_code
        self._buffer: bytearray | None = None  # None: between commands

    def feed(self, data: bytes) -> list[ReaderEvent]:
        events: list[ReaderEvent] = []
        for byte in data:
            if byte == ESC:
                self._buffer = None
                events.append(ABORT)
            elif byte == SOH:
                self._buffer = bytearray()
            elif self._buffer is None:
                continue
            elif byte in (CR, LF):
                events.append(BadCommand(bytes([SOH]) + bytes(self._buffer)))
                self._buffer = None
            else:
                self._buffer.append(byte)
                event = self._complete(self._buffer)
                if event is not None:
                    events.append(event)
                    self._buffer = None
        return events

    def _complete(self, buffer: bytearray) -> Command | BadCommand | None:
        """The event once ``buffer`` holds a whole (good or bad) command, else None."""
        text = buffer.decode("latin-1")
        if len(text) > MAX_COMMAND_LENGTH:
            return BadCommand(bytes([SOH]) + bytes(buffer))
        if len(text) < 6:
            return None
        if self._security_code is not None:
            if text[:6] != self._security_code:
                return BadCommand(bytes([SOH]) + bytes(buffer))
            offset = 6
        else:
            offset = 0 if is_function_code(text[:6]) else 6
        if len(text) < offset + 6:
            return None
        function_code = text[offset : offset + 6]
        if not is_function_code(function_code):
            return BadCommand(bytes([SOH]) + bytes(buffer))
        start = offset + 6
        needed = COMMAND_DATA_LENGTH.get(function_code[:4], 0)
        if len(text) < start + needed:
            return None
        return Command(function_code, text[start : start + needed])
