"""The gas-detector line as a process: a pseudo-terminal, optional RTU-over-TCP, a physics ticker.

The server opens a pty pair (``os.openpty``), keeps the master end and publishes the slave
path: clients open it like a serial port (``AsyncModbusSerialClient(port=slave_path)``).
pymodbus's own serial server cannot be handed an existing master descriptor (it opens a
path through pyserial, and reopening ``/proc/self/fd/N`` of a master allocates a new pty), so
the bytes are moved here and the Modbus work is done by ``bus.DetectorBus``.

A Linux pty keeps the baud rate and stop bits a client sets, but not parity or data bits;
with ``enforce_baudrate`` frames received while the port is at another baud rate are
dropped, as garbled characters would be on a real line.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import termios
import time
import tty
from types import TracebackType

from simulators.clock import SimClock
from simulators.gas_detector.bus import BusCounters, DetectorBus, RtuReceiver
from simulators.gas_detector.config import GasDetectorLineConfig
from simulators.gas_detector.faults import GasDetectorFaults
from simulators.gas_detector.model import DetectorModel, LeakEvent

log = logging.getLogger(__name__)

DEFAULT_RTU_TCP_PORT = 15030
MIN_TICK_REAL_S = 0.05  # at high clock speeds, step less often and in bigger (sub-stepped) chunks


class _PtyLine:
    """The master end of a pty, answering the requests a client writes to the slave end."""

    def __init__(self, config: GasDetectorLineConfig, bus: DetectorBus) -> None:
        self._config = config
        self._bus = bus
        self._receiver: RtuReceiver = bus.receiver(config.serial.frame_gap_s)
        self._queue: asyncio.Queue[bytes] = asyncio.Queue()
        self._master = -1
        self._slave = -1
        self._worker: asyncio.Task[None] | None = None
        self.slave_path = ""

    def open(self) -> None:
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)  # no echo, no CR/LF translation: binary frames pass untouched
        self._apply_line_settings()
        os.set_blocking(self._master, False)
        self.slave_path = os.ttyname(self._slave)
        link = self._config.link_path
        if link is not None:
            if link.is_symlink():
                link.unlink()
            link.symlink_to(self.slave_path)
        asyncio.get_running_loop().add_reader(self._master, self._on_readable)
        self._worker = asyncio.create_task(self._answer_requests(), name=f"{self._config.name} pty")

    def _apply_line_settings(self) -> None:
        line = self._config.serial
        attrs = termios.tcgetattr(self._slave)
        speed = getattr(termios, f"B{line.baudrate}")
        attrs[4] = attrs[5] = speed
        cflag = attrs[2] & ~(termios.CSIZE | termios.PARENB | termios.PARODD | termios.CSTOPB)
        cflag |= termios.CS8 if line.bytesize == 8 else termios.CS7
        if line.parity != "N":
            cflag |= termios.PARENB | (termios.PARODD if line.parity == "O" else 0)
        if line.stopbits == 2:
            cflag |= termios.CSTOPB
        attrs[2] = cflag | termios.CLOCAL | termios.CREAD
        termios.tcsetattr(self._slave, termios.TCSANOW, attrs)

    def _client_baud_matches(self) -> bool:
        if not self._config.serial.enforce_baudrate:
            return True
        expected = getattr(termios, f"B{self._config.serial.baudrate}")
        return bool(termios.tcgetattr(self._master)[4] == expected)

    def _on_readable(self) -> None:
        try:
            data = os.read(self._master, 4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:  # EIO while no slave is open; we hold one, so unexpected
            log.warning("%s: pty read failed: %s", self._config.name, exc)
            return
        if not self._client_baud_matches():
            self._bus.counters.discarded_bytes += len(data)
            return
        self._queue.put_nowait(data)

    async def _answer_requests(self) -> None:
        while True:
            data = await self._queue.get()
            try:
                for request in self._receiver.feed(data, time.monotonic()):
                    frame = await self._bus.answer(request)
                    if frame is not None:
                        self._write(frame)
            except Exception:  # a bug here must not leave the line deaf
                log.exception("%s: request handling failed", self._config.name)

    def _write(self, frame: bytes) -> None:
        try:
            while frame:
                frame = frame[os.write(self._master, frame) :]
        except BlockingIOError:  # nobody reads the slave end and its buffer is full
            log.debug("%s: pty full, reply dropped", self._config.name)

    async def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        if self._master >= 0:
            asyncio.get_running_loop().remove_reader(self._master)
            os.close(self._master)
            os.close(self._slave)
            self._master = self._slave = -1
        link = self._config.link_path
        if link is not None and link.is_symlink() and os.readlink(link) == self.slave_path:
            link.unlink()


class GasDetectorServer:
    """All detectors of one line behind a pty (and optionally RTU-over-TCP).

    ``async with GasDetectorServer(config, clock) as server:`` then open
    ``server.slave_path`` with a serial client. Pass ``tcp_port=0`` for RTU-over-TCP on a
    free port (read it back from ``server.tcp_address``). With a ``ManualClock``, move the
    clock and call ``step()`` (every request also catches the models up to the clock).
    """

    def __init__(
        self,
        config: GasDetectorLineConfig,
        clock: SimClock,
        *,
        host: str = "127.0.0.1",
        tcp_port: int | None = None,
    ) -> None:
        self.config = config
        self._clock = clock
        self._host = host
        self._tcp_port = tcp_port
        self._models = {
            detector.unit_id: DetectorModel(detector, random.Random(config.seed * 1000 + detector.unit_id))
            for detector in config.detectors
        }
        self.faults = GasDetectorFaults(self._models)
        self._bus = DetectorBus(self._models, self.faults, random.Random(config.seed), self.step)
        self._stepped_to = clock.elapsed()
        self._pty = _PtyLine(config, self._bus)
        self._tcp: asyncio.Server | None = None
        self._tcp_writers: set[asyncio.StreamWriter] = set()
        self._ticker: asyncio.Task[None] | None = None

    # ---- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        self._pty.open()
        if self._tcp_port is not None:
            try:
                self._tcp = await asyncio.start_server(self._serve_tcp_client, self._host, self._tcp_port)
            except OSError:
                await self._pty.close()
                raise
        self._ticker = asyncio.create_task(self._tick(), name=f"{self.config.name} physics")
        log.info("%s: %d detectors on %s", self.config.name, len(self._models), self.slave_path)

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        if self._tcp is not None:
            self._tcp.close()
            for writer in list(self._tcp_writers):
                writer.close()
            await self._tcp.wait_closed()
            self._tcp = None
        await self._pty.close()

    async def __aenter__(self) -> GasDetectorServer:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    # ---- what clients and scenarios use ---------------------------------------------------

    @property
    def slave_path(self) -> str:
        """The serial port path clients open (e.g. ``/dev/pts/3``)."""
        return self._pty.slave_path

    @property
    def tcp_address(self) -> tuple[str, int] | None:
        if self._tcp is None:
            return None
        host, port = self._tcp.sockets[0].getsockname()[:2]
        return str(host), int(port)

    @property
    def counters(self) -> BusCounters:
        return self._bus.counters

    @property
    def unit_ids(self) -> tuple[int, ...]:
        return tuple(self._models)

    def detector(self, unit: int) -> DetectorModel:
        return self._models[unit]

    def start_leak(self, unit: int, peak_pct_lel: float, rise_s: float, hold_s: float, fall_s: float) -> LeakEvent:
        """A leak seen by one detector (catching the physics up to the clock first)."""
        self.step()
        return self._models[unit].start_leak(peak_pct_lel, rise_s, hold_s, fall_s)

    def step(self) -> None:
        """Advance every detector to the clock's present."""
        now = self._clock.elapsed()
        dt = now - self._stepped_to
        if dt > 0.0:
            for model in self._models.values():
                model.advance(dt)
            self._stepped_to = now

    # ---- tasks ----------------------------------------------------------------------------

    async def _tick(self) -> None:
        # Real-time waits of tick_s / speed: the same pace as clock.sleep(tick_s) on a
        # SimClock, without advancing a ManualClock (which the test moves itself).
        interval = max(self.config.tick_s / self._clock.speed, MIN_TICK_REAL_S)
        while True:
            await asyncio.sleep(interval)
            self.step()

    async def _serve_tcp_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        receiver = self._bus.receiver(self.config.serial.frame_gap_s)
        self._tcp_writers.add(writer)
        try:
            while data := await reader.read(4096):
                for request in receiver.feed(data, time.monotonic()):
                    frame = await self._bus.answer(request)
                    if frame is not None:
                        writer.write(frame)
                        await writer.drain()
        except ConnectionError:
            pass
        finally:
            self._tcp_writers.discard(writer)
            writer.close()


async def run(
    config: GasDetectorLineConfig,
    clock: SimClock,
    *,
    host: str = "127.0.0.1",
    port: int | None = DEFAULT_RTU_TCP_PORT,
) -> None:
    """Serve the line until cancelled: the pty always, RTU-over-TCP on ``port`` unless None."""
    async with GasDetectorServer(config, clock, host=host, tcp_port=port) as server:
        log.info("%s: serial port %s, RTU-over-TCP %s", config.name, server.slave_path, server.tcp_address)
        await asyncio.Event().wait()
