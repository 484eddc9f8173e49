"""The one place that talks TLS on the wire: a TCP connection (asyncio streams) or a serial line.

``TlsConnection.ask(code)`` sends one command and reads its one answer; ``timeout`` is the longest
silence allowed (a long report at 9600 baud takes seconds, and keeps the wait going while its
bytes arrive, up to ``ANSWER_LIMIT_S``):

- no byte at all in time, a refused or dropped connection, a serial port that will not open →
  ``DeviceUnavailable`` (the line is closed and reopened by the next call);
- bytes that never make the answer (garbage, a frame cut short), a wrong checksum, a frame or
  report that does not add up → ``BadFrame``;
- ``9999FF1B`` (unknown command, unknown tank, wrong security code) → ``DeviceRejected``.

Every dropped stretch of bytes is reported to ``on_bad_frame(kind)`` so that the caller can count
it; an answer to an earlier command (its function code differs) is dropped and counted the same
way. After a failed answer ``ESC`` is sent, which makes the console drop anything still queued, and
the line is reopened, so that a late answer cannot pass for the next one. It never retries: the
device source owns the schedule and the back-off.

The serial line uses pyserial (``serial_asyncio`` is not installed) in a worker thread, in short
read slices so that a cancelled call never leaves a thread blocked for long.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import serial

from protocol_adapters.readings import BadFrame, DeviceRejected, DeviceUnavailable
from protocol_adapters.tls.codec import (
    ESC,
    Answer,
    FrameError,
    FrameSplitter,
    Skipped,
    UnknownCommand,
    command,
    parse_answer,
)

T = TypeVar("T")
READ_SLICE_S = 0.05   # one blocking serial read in the worker thread
ANSWER_LIMIT_S = 60.0  # however long the bytes keep coming, one answer takes no longer than this


class _Line(Protocol):
    async def open(self, within_s: float) -> None: ...
    async def write(self, data: bytes) -> None: ...
    async def read(self, within_s: float) -> bytes: ...
    def close(self) -> None: ...


class _TcpLine:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def open(self, within_s: float) -> None:
        async with asyncio.timeout(within_s):
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)

    async def write(self, data: bytes) -> None:
        if self._writer is None:
            raise ConnectionError("not connected")
        self._writer.write(data)
        await self._writer.drain()

    async def read(self, within_s: float) -> bytes:
        """Some bytes, or ``b""`` when none came within ``within_s``."""
        if self._reader is None:
            raise ConnectionError("not connected")
        try:
            async with asyncio.timeout(within_s):
                data = await self._reader.read(4096)
        except TimeoutError:
            return b""
        if not data:
            raise ConnectionError("the gauge closed the connection")
        return data

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None


class _SerialLine:
    def __init__(self, path: str, baudrate: int) -> None:
        self.path, self.baudrate = path, baudrate
        self._port: Any = None

    async def open(self, within_s: float) -> None:
        def _open() -> Any:
            port = serial.Serial(self.path, self.baudrate, timeout=READ_SLICE_S, write_timeout=within_s)
            port.reset_input_buffer()   # whatever waited in the line is not an answer to us
            return port

        self._port = await asyncio.to_thread(_open)

    async def write(self, data: bytes) -> None:
        port = self._port
        if port is None:
            raise ConnectionError("not open")
        await asyncio.to_thread(port.write, data)

    async def read(self, within_s: float) -> bytes:
        port = self._port
        if port is None:
            raise ConnectionError("not open")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_s
        while True:
            data: bytes = await asyncio.to_thread(_read_some, port)
            if data or loop.time() >= deadline:
                return data

    def close(self) -> None:
        port, self._port = self._port, None
        if port is not None:
            with contextlib.suppress(OSError):
                port.close()


def _read_some(port: Any) -> bytes:
    """What arrives within one read slice (runs in a worker thread)."""
    first: bytes = port.read(1)
    if not first:
        return b""
    waiting = port.in_waiting
    return first + (port.read(waiting) if waiting else b"")


class TlsConnection:
    """One line to one TLS console: ``host``/``port`` over TCP, or ``serial_port`` at ``baudrate``."""

    def __init__(self, *, host: str | None = None, port: int = 10001, serial_port: str | None = None,
                 baudrate: int = 9600, security_code: str | None = None, timeout: float = 2.0,
                 on_bad_frame: Callable[[str], None] | None = None) -> None:
        self._line: _Line
        if host is not None:
            self._line, self.label = _TcpLine(host, port), f"{host}:{port}"
        elif serial_port is not None:
            self._line, self.label = _SerialLine(serial_port, baudrate), serial_port
        else:
            raise ValueError("a TLS connection needs a host or a serial port")
        command("i20100", security_code)   # a malformed security code fails here, not on the wire
        self.security_code = security_code
        self.timeout = timeout
        self.on_bad_frame = on_bad_frame
        self._open = False
        self._splitter = FrameSplitter()
        self._lock = asyncio.Lock()

    def close(self) -> None:
        self._line.close()
        self._open = False
        self._splitter = FrameSplitter()

    async def ask(self, function_code: str) -> Answer:
        """Send one command (e.g. ``i20100``) and return its checked answer."""
        frame = command(function_code, self.security_code)
        async with self._lock:
            try:
                if not self._open:
                    await self._line.open(self.timeout)
                    self._open = True
                async with asyncio.timeout(self.timeout):
                    await self._line.write(frame)
                return await self._answer(function_code)
            except (OSError, TimeoutError) as exc:   # serial.SerialException is an OSError
                self.close()
                raise DeviceUnavailable(f"{self.label}: {function_code}: {exc or type(exc).__name__}") from exc

    async def ask_report(self, function_code: str, decode: Callable[[str], T]) -> T:
        """``ask`` and decode the answer's data; a report that does not add up is a ``BadFrame``."""
        answer = await self.ask(function_code)
        try:
            return decode(answer.data)
        except FrameError as exc:
            self._bad(exc.kind)
            raise BadFrame(f"{self.label}: {function_code}: {exc}") from exc

    async def _answer(self, function_code: str) -> Answer:
        loop = asyncio.get_running_loop()
        limit = loop.time() + max(ANSWER_LIMIT_S, self.timeout)
        deadline = loop.time() + self.timeout
        spoiled = False   # bytes came that were not a usable answer
        while (remaining := min(deadline, limit) - loop.time()) > 0:
            data = await self._line.read(remaining)
            if data:      # a long report on a slow line keeps coming: wait while it does
                deadline = loop.time() + self.timeout
            for item in self._splitter.feed(data):
                if isinstance(item, Skipped):
                    spoiled = True
                    self._bad(item.kind)
                    continue
                try:
                    answer = parse_answer(item)
                except UnknownCommand as exc:
                    raise DeviceRejected(f"{self.label}: {function_code} answered 9999FF1B "
                                         "(unknown command or tank, or wrong security code)") from exc
                except FrameError as exc:
                    self._bad(exc.kind)
                    await self._abandon()
                    raise BadFrame(f"{self.label}: {function_code}: {exc}") from exc
                if answer.function_code != function_code:
                    self._bad("unexpected")   # a late answer to an earlier command
                    continue
                return answer
        leftover = self._splitter.flush()
        if leftover is not None:
            spoiled = True
            self._bad(leftover.kind)
        await self._abandon()
        if spoiled:
            raise BadFrame(f"{self.label}: {function_code}: no complete answer "
                           f"({leftover.kind if leftover else 'garbage'})")
        raise DeviceUnavailable(f"{self.label}: no answer to {function_code} within {self.timeout} s")

    async def _abandon(self) -> None:
        """``ESC`` (the console drops what it still had to send us), then start the line afresh."""
        with contextlib.suppress(OSError, TimeoutError):
            async with asyncio.timeout(self.timeout):
                await self._line.write(bytes([ESC]))
        self.close()

    def _bad(self, kind: str) -> None:
        if self.on_bad_frame is not None:
            self.on_bad_frame(kind)
