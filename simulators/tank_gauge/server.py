"""The tank gauge on the wire: a TCP listener and a serial line (pseudo-terminal), one console.

This is the only module of the package that does I/O. ``TankGaugeServer`` owns the ``Console``,
keeps it stepped to the simulation clock (every ``tick_s`` real seconds, and again before every
answer and every station action, so answers are always current), and serves the TLS protocol on

- TCP, ``127.0.0.1:tcp_port`` (10001 by default, 0 for a free port): several clients, several
  commands per connection;
- a pseudo-terminal (``os.openpty()``): the server owns the master side, a client opens
  ``serial_path`` (e.g. ``/dev/pts/7``) with pyserial at 9600 8N1. The slave is in raw mode
  (no echo, no line editing) and the server keeps it open, so clients may come and go.

Each line answers its commands one at a time, in order; ``ESC`` drops the answer in progress
and any queued. Line faults (``faults``) shape every answer on both transports.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import tty
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any

from simulators.clock import SimClock
from simulators.tank_gauge.commands import ABORT, BadCommand, Command, CommandReader
from simulators.tank_gauge.config import TankGaugeConfig
from simulators.tank_gauge.console import Console
from simulators.tank_gauge.faults import LineFaults, TankGaugeFaults
from simulators.tank_gauge.model import Tank
from simulators.tank_gauge.records import TankReading

log = logging.getLogger(__name__)

WRITE_CHUNK = 64  # bytes per write, so that ESC can stop a long answer part-way
_Send = Callable[[bytes], Awaitable[None]]


class _Session:
    """One client line (a TCP connection or the serial port): commands in, answers out, in order."""

    def __init__(self, gauge: TankGaugeServer, send: _Send) -> None:
        self._gauge = gauge
        self._send = send
        self._reader = CommandReader(gauge.config.security_code)
        self._queue: deque[Command | BadCommand] = deque()
        self._ready = asyncio.Event()
        self._answering: asyncio.Task[None] | None = None
        self._closing = False

    def feed(self, data: bytes) -> None:
        for event in self._reader.feed(data):
            if event is ABORT:  # count every command whose answer is dropped
                self._gauge.counters["aborted"] += len(self._queue)
                self._queue.clear()
                if self._answering is not None and self._answering.cancel():
                    self._gauge.counters["aborted"] += 1
            else:
                self._queue.append(event)
                self._ready.set()

    def close_when_idle(self) -> None:
        """The client closed its side: answer what is queued, then stop."""
        self._closing = True
        self._ready.set()

    async def serve(self) -> None:
        while True:
            await self._ready.wait()
            self._ready.clear()
            while self._queue:
                task = self._answering = asyncio.create_task(self._answer(self._queue.popleft()))
                try:
                    await asyncio.wait({task})
                finally:
                    task.cancel()  # no-op when done; stops it if we are cancelled ourselves
                    self._answering = None
                error = None if task.cancelled() else task.exception()
                if isinstance(error, OSError):
                    return  # the client is gone
                if error is not None:
                    log.error("tank gauge: answer failed", exc_info=error)
            if self._closing:
                return

    async def _answer(self, event: Command | BadCommand) -> None:
        answer = self._gauge.answer(event)
        shaped = self._gauge.line_faults.shape(answer)
        if shaped is None:
            return
        if self._gauge.line_faults.slow_answer_s > 0:
            await asyncio.sleep(self._gauge.line_faults.slow_answer_s)
        for start in range(0, len(shaped), WRITE_CHUNK):
            await self._send(shaped[start : start + WRITE_CHUNK])


class _PseudoTerminal:
    """The serial line: master side of a pty, read and written without blocking the loop."""

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        os.set_blocking(self.master, False)
        self.path = os.ttyname(self.slave)

    def start_reading(self, on_data: Callable[[bytes], None]) -> None:
        asyncio.get_running_loop().add_reader(self.master, self._readable, on_data)

    def _readable(self, on_data: Callable[[bytes], None]) -> None:
        try:
            data = os.read(self.master, 1024)
        except OSError:  # EAGAIN, or EIO while the line is being closed
            return
        if data:
            on_data(data)

    async def write(self, data: bytes) -> None:
        loop = asyncio.get_running_loop()
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(self.master, view) :]
            except BlockingIOError:
                writable: asyncio.Future[None] = loop.create_future()
                loop.add_writer(self.master, _resolve, writable)
                try:
                    await writable
                finally:
                    loop.remove_writer(self.master)

    def close(self) -> None:
        loop = asyncio.get_running_loop()
        loop.remove_reader(self.master)
        loop.remove_writer(self.master)
        os.close(self.master)
        os.close(self.slave)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class TankGaugeServer:
    """A running tank gauge: ``async with TankGaugeServer(config, clock, port=0) as gauge: …``."""

    def __init__(
        self,
        config: TankGaugeConfig,
        clock: SimClock,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        serial: bool | None = None,
        tick_s: float = 0.25,
    ) -> None:
        self.config = config
        self.clock = clock
        self.console = Console(config, start=clock.stamp())
        self.line_faults = LineFaults(random.Random(config.seed + 1))
        self.faults = TankGaugeFaults(self.line_faults, self.console, self.sync)
        self.counters: Counter[str] = Counter()
        self._host = host
        self._port = config.tcp_port if port is None else port
        self._serial = config.serial if serial is None else serial
        self._tick_s = tick_s
        self._last_elapsed = clock.elapsed()
        self._tcp: asyncio.Server | None = None
        self._pty: _PseudoTerminal | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._handlers: set[asyncio.Task[Any]] = set()
        self._connections: dict[asyncio.StreamWriter, asyncio.Future[None]] = {}

    # ---- lifecycle ----------------------------------------------------------------------------

    async def __aenter__(self) -> TankGaugeServer:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        self._tcp = await asyncio.start_server(self._on_tcp_client, self._host, self._port)
        self._spawn(self._tick())
        if self._serial:
            self._pty = _PseudoTerminal()
            session = _Session(self, self._pty.write)
            self._pty.start_reading(session.feed)
            self._spawn(session.serve())
        log.info("tank gauge: TCP %s:%d, serial %s", self._host, self.port, self.serial_path)

    async def stop(self) -> None:
        if self._tcp is not None:
            self._tcp.close()
        for writer, serving in list(self._connections.items()):
            serving.cancel()
            writer.close()  # the handler reads EOF and returns on its own
        if self._handlers:
            await asyncio.wait(set(self._handlers), timeout=2.0)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._tcp is not None:
            await self._tcp.wait_closed()
            self._tcp = None
        if self._pty is not None:
            self._pty.close()
            self._pty = None

    @property
    def port(self) -> int:
        """The TCP port actually bound (useful with port 0)."""
        if self._tcp is None:
            raise RuntimeError("server not started")
        port: int = self._tcp.sockets[0].getsockname()[1]
        return port

    @property
    def serial_path(self) -> str | None:
        """The device a serial client opens (``/dev/pts/N``), or None without a serial line."""
        return self._pty.path if self._pty is not None else None

    def _spawn(self, coroutine: Awaitable[None]) -> asyncio.Task[None]:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # ---- the model on the clock ---------------------------------------------------------------

    def sync(self) -> None:
        """Step the console up to the clock's present."""
        elapsed = self.clock.elapsed()
        dt = elapsed - self._last_elapsed
        if dt > 0:
            self.console.advance(dt, self.clock.stamp())
            self._last_elapsed = elapsed

    async def _tick(self) -> None:
        while True:
            self.sync()
            await asyncio.sleep(self._tick_s)

    def answer(self, event: Command | BadCommand) -> bytes:
        """The console's answer to one command, at the clock's present."""
        self.sync()
        answer = self.console.answer(event)
        self.counters["commands"] += 1
        if isinstance(event, BadCommand) or answer.startswith(b"\x019999FF1B"):
            self.counters["unknown"] += 1
        return answer

    # ---- what the station does (each syncs first) ---------------------------------------------

    def tank(self, number: int) -> Tank:
        self.sync()
        return self.console.tank(number)

    def reading(self, tank: int) -> TankReading:
        return self.tank(tank).reading()

    def draw(self, tank: int, litres: float) -> float:
        return self.tank(tank).draw(litres)

    def start_delivery(self, tank: int, litres: float, product_temp_c: float, rate_l_min: float = 600.0) -> None:
        self.tank(tank).start_delivery(litres, product_temp_c, rate_l_min)

    def start_leak_test(self, tank: int, duration_h: int = 2) -> None:
        self.tank(tank).start_leak_test(duration_h)

    # ---- TCP ----------------------------------------------------------------------------------

    async def _on_tcp_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async def send(data: bytes) -> None:
            writer.write(data)
            await writer.drain()

        session = _Session(self, send)
        serving = asyncio.ensure_future(session.serve())
        handler = asyncio.current_task()
        self._connections[writer] = serving
        if handler is not None:
            self._handlers.add(handler)
            handler.add_done_callback(self._handlers.discard)
        try:
            while data := await reader.read(1024):
                session.feed(data)
            session.close_when_idle()  # the client half-closed: finish what it asked for
            await asyncio.wait({serving}, timeout=10.0 + self.line_faults.slow_answer_s)
        except OSError:
            pass
        finally:
            del self._connections[writer]
            serving.cancel()
            await asyncio.gather(serving, return_exceptions=True)
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

async def run(
    config: TankGaugeConfig, clock: SimClock, *, host: str = "127.0.0.1", port: int | None = None
) -> None:
    """Serve the tank gauge until cancelled (``port`` None: the config's ``tcp_port``)."""
    async with TankGaugeServer(config, clock, host=host, port=port):
        await asyncio.Event().wait()
