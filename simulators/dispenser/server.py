"""Modbus TCP server of the dispenser simulator: the one module here that does I/O.

pymodbus 3.16 serves one ``SimDevice`` whose ``action`` callback runs on every access: the model
is first brought up to the clock's present, a read is answered from a fresh image of the
register map, a write is decoded and applied to the model (``registers.py``). A background task
also steps the model every ``TICK_S`` real seconds so that fuel flows with nobody polling.
Faults hook in per request (silent, exception codes), per reply (delay, garbage) and at the
listener (refused connections).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import random
from functools import partial
from types import TracebackType
from typing import Any, Self, cast

from pymodbus.constants import ExcCodes
from pymodbus.pdu import ModbusPDU
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice
from pymodbus.simulator.simutils import SimUtils

from simulators.clock import SimClock
from simulators.dispenser.config import DispenserConfig
from simulators.dispenser.faults import DispenserFaults, OfflineMode
from simulators.dispenser.model import DispenserModel
from simulators.dispenser.registers import (
    CommandPanel,
    IllegalValue,
    RegisterMapError,
    apply_holding_writes,
    coil_image,
    decode_coil_write,
    decode_holding_write,
    encode_holding,
    encode_input,
    holding_register_count,
)
from simulators.dispenser.states import CommandResult

DEFAULT_PORT = 5020
#: Real seconds between two model steps of the background task.
TICK_S = 0.05
_COIL_WRITES = frozenset({5, 15})
_ECHO_READBACKS = frozenset({5, 6})  # FC05/FC06 read back what was written: answer the echo

log = logging.getLogger(__name__)


class _ListenerWithFaults(ModbusTcpServer):
    """pymodbus TCP listener whose connections send their replies through ``send_reply``."""

    def __init__(self, *args: Any, send_reply: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._send_reply = send_reply

    def callback_new_connection(self) -> Any:
        handler = super().callback_new_connection()  # type: ignore[no-untyped-call]
        handler.low_level_send = partial(self._send_reply, handler)
        return handler


class DispenserServer:
    """Serves a ``DispenserModel`` over Modbus TCP on ``host:port`` (port 0 = a free one).

    Use as ``async with DispenserServer(model, clock, port=0) as server: ... server.port``.
    """

    def __init__(
        self, model: DispenserModel, clock: SimClock, host: str = "127.0.0.1", port: int = DEFAULT_PORT
    ) -> None:
        self.model = model
        self.clock = clock
        self.host = host
        self.faults = DispenserFaults(random.Random(model.config.seed))
        self.panels = [CommandPanel() for _ in range(model.fuelling_point_count)]
        self._port = port
        self._nozzle_counts = [len(fp.nozzles) for fp in model.config.fuelling_points]
        self._elapsed = clock.elapsed()
        self._listener: _ListenerWithFaults | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def port(self) -> int:
        return self._port

    @property
    def unit_id(self) -> int:
        return self.model.config.unit_id

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._elapsed = self.clock.elapsed()
        self.model.advance(0.0, now=self.clock.stamp())
        await self._open_listener()
        self._ticker = asyncio.create_task(self._tick(), name=f"dispenser-{self._port}-physics")

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        await self._close_listener()

    # ----- faults that need the server -------------------------------------------------------
    async def go_offline(self, mode: OfflineMode = OfflineMode.REFUSE) -> None:
        """Device unreachable: refuse connections (listener closed) or accept and stay mute."""
        if OfflineMode(mode) is OfflineMode.SILENT:
            self.faults.mute(True)
        else:
            await self._close_listener()

    async def go_online(self) -> None:
        self.faults.mute(False)
        if self._listener is None:
            await self._open_listener()

    def power_off(self) -> None:
        """Mains lost now (sim time): see ``DispenserModel.power_off``; the server stops answering."""
        self.catch_up()
        self.model.power_off()

    def power_on(self) -> None:
        self.catch_up()
        self.model.power_on()

    def catch_up(self) -> None:
        """Step the model to the clock's present."""
        elapsed = self.clock.elapsed()
        dt = elapsed - self._elapsed
        if dt > 0:
            self._elapsed = elapsed
            self.model.advance(dt, now=self.clock.stamp())

    # ----- pymodbus hooks --------------------------------------------------------------------
    async def _on_access(
        self, function_code: int, start: int, address: int, count: int, registers: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        """pymodbus ``action``: called for every access to a valid address range."""
        self.catch_up()
        try:
            if set_values is None:
                return self._on_read(function_code, registers)
            if function_code in _COIL_WRITES:
                self._write_coils(address, [bool(v) for v in set_values])
            else:
                self._write_registers(address, [int(v) for v in set_values])
        except RegisterMapError as exc:
            log.info("dispenser unit %s refused FC%02d at %d: %s", self.unit_id, function_code, address, exc)
            return ExcCodes(exc.exception_code)
        return None

    def _on_read(self, function_code: int, registers: list[int]) -> ExcCodes | None:
        if function_code in _ECHO_READBACKS:
            return None
        if (code := self.faults.take_read_exception()) is not None:
            return ExcCodes(code)
        view = self.model.view()
        if function_code in (1, 2):  # coils and discrete inputs both show the nozzle switches
            coils = coil_image(view)
            packed = SimUtils.bitsToRegisters(coils + [False] * (-len(coils) % 16))
            registers[: len(packed)] = packed
        elif function_code == 4:  # input registers: the transaction window (docs/protocols/dispenser-modbus.md)
            buffers = [self.model.transactions(fp.number) for fp in view.fuelling_points]
            image = encode_input(view, self.panels, buffers)
            registers[: len(image)] = image
        else:
            image = encode_holding(view, self.panels)
            registers[: len(image)] = image
        return None

    def _write_registers(self, address: int, values: list[int]) -> None:
        image = encode_holding(self.model.view(), self.panels)
        writes = decode_holding_write(image, address, values, self._nozzle_counts)
        apply_holding_writes(self.model, self.panels, writes)

    def _write_coils(self, address: int, bits: list[bool]) -> None:
        for fp, nozzle, lifted in decode_coil_write(address, bits, self._nozzle_counts):
            act = self.model.lift_nozzle if lifted else self.model.hang_nozzle
            if act(fp, nozzle) is not CommandResult.OK:
                raise IllegalValue(f"FP {fp} nozzle {nozzle}: another nozzle of this FP is lifted")

    def _on_request(self, sending: bool, pdu: ModbusPDU) -> ModbusPDU | None:
        """pymodbus ``trace_pdu``: a request for another unit or to a mute device is dropped."""
        if sending:
            return pdu
        if self.faults.silent or not self.model.powered or pdu.dev_id != self.unit_id:
            self.faults.counters.dropped_requests += 1
            return None
        return pdu

    def _send_reply(self, handler: Any, frame: bytes, addr: Any = None) -> None:
        frame = self.faults.outgoing(frame)
        delay = self.faults.delay_s
        if delay > 0 and self._loop is not None:
            self.faults.counters.delayed_replies += 1
            self._loop.call_later(delay, self._write, handler, frame)
        else:
            self._write(handler, frame)

    def _write(self, handler: Any, frame: bytes) -> None:
        if self.faults.silent or not self.model.powered:
            return  # went mute while the reply was delayed
        transport = handler.transport
        if transport is not None and not transport.is_closing():
            transport.write(frame)

    # ----- listener and physics task ---------------------------------------------------------
    def _device(self) -> SimDevice:
        size = holding_register_count(self.model.fuelling_point_count)
        return SimDevice(
            id=self.unit_id,
            simdata=(
                [SimData(0, count=size, values=False, datatype=DataType.BITS)],  # coils: nozzle lift
                [SimData(0, count=size, values=False, datatype=DataType.BITS)],  # discrete inputs: same, read-only
                [SimData(0, count=size, values=0, datatype=DataType.REGISTERS)],  # the register map
                [SimData(0, count=size, values=0, datatype=DataType.REGISTERS)],  # the transaction window
            ),
            action=self._on_access,
        )

    async def _open_listener(self) -> None:
        listener = _ListenerWithFaults(
            self._device(), address=(self.host, self._port), trace_pdu=self._on_request,
            send_reply=self._send_reply,
        )
        try:
            await listener.serve_forever(background=True)
        except RuntimeError:   # pymodbus says only "Could not start listen, please check address."
            raise OSError(errno.EADDRINUSE, f"cannot listen on {self.host}:{self._port} (port in use, or "
                          "not an address of this machine)") from None
        self._listener = listener
        if self._port == 0:
            server = cast(asyncio.Server, listener.transport)  # a listener's transport is the Server
            self._port = int(server.sockets[0].getsockname()[1])
        log.info("dispenser unit %s listening on %s:%s", self.unit_id, self.host, self._port)

    async def _close_listener(self) -> None:
        if self._listener is not None:
            await self._listener.shutdown()  # type: ignore[no-untyped-call]
            self._listener = None

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            self.catch_up()


async def run(
    config: DispenserConfig, clock: SimClock, *, host: str = "127.0.0.1", port: int = DEFAULT_PORT
) -> None:
    """Run one dispenser on ``host:port`` until cancelled."""
    model = DispenserModel(config, start=clock.stamp())
    async with DispenserServer(model, clock, host=host, port=port):
        await asyncio.Event().wait()
