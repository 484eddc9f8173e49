"""The RTU responder: request frames in, reply frames out, for every detector on a line.

Shared by the pty and the TCP transports, which only move bytes. Framing, CRC and PDU
decoding are pymodbus's (``FramerRTU``, ``DecodePDU``); the register contents come from
``registers``; line faults are applied here, after the reply is built.

Unlike pymodbus's own server, a request for a unit id that is not on the line is never
answered, as on a real RS-485 bus.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from pymodbus.constants import ExcCodes
from pymodbus.exceptions import ModbusIOException
from pymodbus.framer import FramerRTU
from pymodbus.pdu import DecodePDU, ExceptionResponse, ModbusPDU

from simulators.gas_detector.faults import GasDetectorFaults, garbage_like, with_bad_crc
from simulators.gas_detector.model import DetectorModel
from simulators.gas_detector.registers import (
    COMMAND_RESET_ALARMS,
    READ_FUNCTION_CODES,
    WRITE_FUNCTION_CODES,
    decode_write,
    read_block,
    register_image,
)

log = logging.getLogger(__name__)

BROADCAST_UNIT = 0
MAX_PENDING_BYTES = 256
MIN_FRAME_GAP_S = 0.05  # a pty delivers a frame in one piece; be lenient with a busy loop
SUPPORTED_FUNCTION_CODES = READ_FUNCTION_CODES | WRITE_FUNCTION_CODES


@dataclass
class BusCounters:
    """What the line has seen since start (for tests and scenario checks)."""

    requests: int = 0
    answered: int = 0
    not_addressed: int = 0
    suppressed: int = 0
    exceptions: int = 0
    broadcasts: int = 0
    discarded_bytes: int = 0


class RtuReceiver:
    """Reassembles request frames from the bytes of one connection (pure; times passed in)."""

    def __init__(self, frame_gap_s: float, counters: BusCounters) -> None:
        self._framer = FramerRTU(DecodePDU(True))
        self._gap_s = max(frame_gap_s, MIN_FRAME_GAP_S)
        self._counters = counters
        self._pending = b""
        self._last_at = float("-inf")

    def feed(self, data: bytes, at: float) -> list[ModbusPDU]:
        """Add bytes received at monotonic time ``at``; return the complete requests."""
        if self._pending and at - self._last_at > self._gap_s:
            self._discard(len(self._pending))  # a partial frame followed by silence
        self._last_at = at
        self._pending += data
        requests: list[ModbusPDU] = []
        while self._pending:
            try:
                used, request = self._framer.handleFrame(self._pending, 0, 0)
            except ModbusIOException:  # good CRC, undecodable PDU
                used, request = len(self._pending), None
            if not used:
                break
            self._pending = self._pending[used:]
            if request is None:
                self._counters.discarded_bytes += used
            else:
                requests.append(request)
        if len(self._pending) > MAX_PENDING_BYTES:
            self._discard(len(self._pending))
        return requests

    def _discard(self, count: int) -> None:
        self._counters.discarded_bytes += count
        self._pending = b""


class _LineDatastore:
    """The datastore interface pymodbus PDUs call from ``datastore_update``."""

    def __init__(self, models: Mapping[int, DetectorModel]) -> None:
        self._models = models

    async def async_getValues(
        self, device_id: int, func_code: int, address: int, count: int = 1
    ) -> list[int] | ExcCodes:
        image = register_image(self._models[device_id], device_id)
        return read_block(image, func_code, address, count)

    async def async_setValues(
        self, device_id: int, func_code: int, address: int, values: Sequence[int | bool]
    ) -> ExcCodes | None:
        model = self._models[device_id]
        decoded = decode_write(model.settings, func_code, address, [int(v) for v in values])
        if isinstance(decoded, ExcCodes):
            return decoded
        model.apply_settings(decoded.settings)
        if decoded.command is not None:
            model.last_command = decoded.command
            if decoded.command == COMMAND_RESET_ALARMS:
                model.reset_alarms()
        return None


class DetectorBus:
    """Answers requests for the detectors of one line, with their line faults applied."""

    def __init__(
        self,
        models: Mapping[int, DetectorModel],
        faults: GasDetectorFaults,
        rng: random.Random,
        catch_up: Callable[[], None],
    ) -> None:
        self.counters = BusCounters()
        self._models = models
        self._faults = faults
        self._rng = rng
        self._catch_up = catch_up
        self._datastore = _LineDatastore(models)
        self._framer = FramerRTU(DecodePDU(True))

    def receiver(self, frame_gap_s: float) -> RtuReceiver:
        """A frame reassembler for one connection, counting into this bus."""
        return RtuReceiver(frame_gap_s, self.counters)

    async def answer(self, request: ModbusPDU) -> bytes | None:
        """The reply frame to put on the wire, or None to stay silent."""
        self.counters.requests += 1
        unit = request.dev_id
        self._catch_up()
        if unit == BROADCAST_UNIT:
            await self._broadcast(request)
            return None
        if unit not in self._models:
            self.counters.not_addressed += 1
            return None
        line = self._faults.line(unit)
        if line.offline:
            self.counters.suppressed += 1
            return None
        if line.exception_code is not None:
            reply: ModbusPDU = ExceptionResponse(request.function_code, line.exception_code)
        else:
            reply = await self._execute(request, unit)
        if reply.isError():
            self.counters.exceptions += 1
        reply.dev_id = unit
        reply.transaction_id = 0
        frame = self._framer.buildFrame(reply)
        if line.reply_delay_s > 0.0:
            await asyncio.sleep(line.reply_delay_s)
        if line.corrupt_crc:
            frame = with_bad_crc(frame)
        if line.garbage:
            frame = garbage_like(frame, self._rng)
        self.counters.answered += 1
        return frame

    async def _execute(self, request: ModbusPDU, unit: int) -> ModbusPDU:
        if request.function_code not in SUPPORTED_FUNCTION_CODES:
            return ExceptionResponse(request.function_code, ExcCodes.ILLEGAL_FUNCTION)
        try:
            reply: ModbusPDU = await request.datastore_update(self._datastore, unit)  # type: ignore[arg-type]
        except Exception:  # a bad request must never stop the line
            log.exception("unit %d: request %s failed", unit, request)
            reply = ExceptionResponse(request.function_code, ExcCodes.DEVICE_FAILURE)
        return reply

    async def _broadcast(self, request: ModbusPDU) -> None:
        """Unit 0: writes go to every powered detector; nobody answers."""
        self.counters.broadcasts += 1
        if request.function_code not in WRITE_FUNCTION_CODES:
            return
        for unit in self._models:
            if not self._faults.line(unit).offline:
                await self._execute(request, unit)
