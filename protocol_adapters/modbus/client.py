"""The one place that talks Modbus on the wire (pymodbus), turning every library error into ours.

``ModbusConnection`` reads planned blocks and writes points; it raises ``DeviceUnavailable``
when the device does not answer, ``DeviceRejected`` for an exception response and ``BadFrame``
for an answer of the wrong shape. It never retries by itself: the poller owns the schedule and
the back-off.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException

from protocol_adapters.modbus.codec import ReadBlock, decode_block, encode_point
from protocol_adapters.modbus.points import PointSpec, Table
from protocol_adapters.readings import BadFrame, DeviceRejected, DeviceUnavailable

EXCEPTION_NAMES = {1: "illegal function", 2: "illegal data address", 3: "illegal data value",
                   4: "device failure", 5: "acknowledge", 6: "device busy", 10: "gateway path unavailable",
                   11: "gateway target failed to respond"}


class ModbusConnection:
    """One Modbus TCP connection (or one RTU serial line) to one unit id."""

    def __init__(self, *, host: str | None = None, port: int = 502, serial_port: str | None = None,
                 baudrate: int = 9600, parity: str = "N", unit_id: int = 1, timeout: float = 1.0) -> None:
        self.unit_id = unit_id
        self.label = f"{host}:{port}/{unit_id}" if host else f"{serial_port}/{unit_id}"
        self._client: Any
        if host is not None:
            self._client = AsyncModbusTcpClient(host, port=port, timeout=timeout, retries=0, reconnect_delay=0)
        elif serial_port is not None:
            self._client = AsyncModbusSerialClient(serial_port, baudrate=baudrate, parity=parity,
                                                   timeout=timeout, retries=0, reconnect_delay=0)
        else:
            raise ValueError("a Modbus connection needs a host or a serial port")
        self._lock = asyncio.Lock()

    @property
    def connected(self) -> bool:
        return bool(self._client.connected)

    async def connect(self) -> None:
        try:
            ok = await self._client.connect()
        except (OSError, ModbusException) as exc:
            raise DeviceUnavailable(f"{self.label}: cannot connect: {exc}") from exc
        if not ok:
            raise DeviceUnavailable(f"{self.label}: cannot connect")

    def close(self) -> None:
        self._client.close()

    async def read(self, block: ReadBlock, unit_id: int | None = None) -> dict[str, int | float | bool | None]:
        """Read one planned block and decode its points (``unit_id``: another unit on a shared RTU line)."""
        call = {Table.HOLDING: self._client.read_holding_registers, Table.INPUT: self._client.read_input_registers,
                Table.COIL: self._client.read_coils, Table.DISCRETE: self._client.read_discrete_inputs}[block.table]
        unit = self.unit_id if unit_id is None else unit_id
        result = await self._call(call, block.start, count=block.count, device_id=unit)
        words: Sequence[int | bool] = (result.bits if block.table in (Table.COIL, Table.DISCRETE)
                                       else result.registers)
        try:
            return decode_block(block, words)
        except ValueError as exc:
            raise BadFrame(f"{self.label}: {exc}") from exc

    async def write(self, spec: PointSpec, value: float | int | bool, unit_id: int | None = None) -> None:
        words = encode_point(spec, value)
        unit = self.unit_id if unit_id is None else unit_id
        if spec.table is Table.COIL:
            await self._call(self._client.write_coil, spec.address, bool(words[0]), device_id=unit)
        else:
            await self._call(self._client.write_registers, spec.address, words, device_id=unit)

    async def write_registers(self, address: int, words: Sequence[int], unit_id: int | None = None) -> None:
        unit = self.unit_id if unit_id is None else unit_id
        await self._call(self._client.write_registers, address, list(words), device_id=unit)

    async def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        async with self._lock:
            if not self._client.connected:
                await self.connect()
            try:
                result = await fn(*args, **kwargs)
            except (TimeoutError, ConnectionException, ModbusIOException, OSError) as exc:
                self._client.close()
                raise DeviceUnavailable(f"{self.label}: no answer: {exc}") from exc
            except ModbusException as exc:
                self._client.close()
                raise BadFrame(f"{self.label}: {exc}") from exc
        if result.isError():
            code = getattr(result, "exception_code", 0)
            raise DeviceRejected(f"{self.label}: exception {code} ({EXCEPTION_NAMES.get(code, 'unknown')})")
        return result
