"""The fuel dispenser (Modbus, register map v1): its commands and its fuelling watcher.

Every register address comes from the profile (``protocol_adapters/modbus/profiles.py``): authorise
and stop write the command panel's arguments then its command register and read the result and
counter back; a price change writes the nozzle's price and is acknowledged only when the device
reads the new price back (also the dispenser's ``PriceWriter`` for price sets, with ``fp_idle``);
a buffered transaction is read through the transaction window (FC04).
The watcher hands every poll to ``FuellingRecovery``, so every fuelling is read in order or reported
as a gap.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

from edge_nodes.commands import DeviceCommand
from edge_nodes.fuelling_recovery import FuellingRecovery
from edge_nodes.source import DeviceSource
from protocol_adapters.modbus.client import ModbusConnection
from protocol_adapters.modbus.codec import ReadBlock
from protocol_adapters.modbus.points import PointSpec, Table
from protocol_adapters.modbus.profiles import dispenser_v1, dispenser_v1_panel
from protocol_adapters.readings import Reading
from telemetry.contracts.commands import (
    AUTHORIZE_NOZZLE,
    SET_PRICE,
    STOP_FUELLING,
    AuthorizeNozzle,
    Result,
    SetPrice,
    StopFuelling,
)

from .base import NodeServices, Watcher

PROFILE = "dispenser-v1"
_RESULTS: dict[int, Result] = {0: "accepted", 1: "refused", 2: "bad-argument"}
_PRESETS = {"none": 0, "volume": 1, "amount": 2}
_AUTHORISE, _STOP = 1, 2
#: IFSF fuelling-point states in which a price may change: Closed, Idle (register map v1 §3.2).
IDLE_STATES = frozenset({2, 3})


class DispenserCommands:
    """Writes to one dispenser through the connection its poller uses (so the two never interleave)."""

    def __init__(self, connection: ModbusConnection) -> None:
        self.conn = connection

    async def _read(self, spec: PointSpec) -> int:
        values = await self.conn.read(ReadBlock(spec.table, spec.address, spec.count, (spec,)))
        return int(values[spec.key] or 0)

    async def _execute(self, fp: int, command: int, arguments: list[int] | None = None) -> tuple[Result, str]:
        panel = dispenser_v1_panel(fp)
        counter = await self._read(panel["counter"])
        if arguments is not None:
            await self.conn.write_registers(panel["arguments"].address, arguments)
        await self.conn.write_registers(panel["command"].address, [command])
        for _ in range(40):                        # the device takes the command on its next scan
            if await self._read(panel["counter"]) != counter:
                code = await self._read(panel["result"])
                return _RESULTS.get(code, "refused"), f"device result code {code}"
            await asyncio.sleep(0.05)
        return "timeout", "the device did not take the command"

    async def read_transaction(self, fp: int, number: int) -> dict[str, object] | None:
        """A transaction still in the pump's buffer, by number, through the window (select it, then read
        the record's registers with FC04); None when the pump no longer holds it."""
        await self.conn.write(dispenser_v1_panel(fp)["window"], number)
        prefix = f"fp{fp}/last/"
        specs = tuple(replace(p, key=p.key.removeprefix(prefix), table=Table.INPUT)
                      for p in dispenser_v1(fp, 1) if p.key.startswith(prefix))
        start = min(p.address for p in specs)
        end = max(p.address + p.count for p in specs)
        values = await self.conn.read(ReadBlock(Table.INPUT, start, end - start, specs))
        return values if values.get("transaction") == number else None  # type: ignore[return-value]

    async def authorize(self, c: AuthorizeNozzle) -> tuple[Result, str]:
        value = c.preset_value if c.preset_type != "none" else 0
        return await self._execute(c.fuelling_point, _AUTHORISE,
                                   [_PRESETS[c.preset_type], value >> 16, value & 0xFFFF, c.nozzle])

    async def stop(self, c: StopFuelling) -> tuple[Result, str]:
        return await self._execute(c.fuelling_point, _STOP)

    async def set_price(self, c: SetPrice) -> tuple[Result, str]:
        return await self.write_price(c.fuelling_point, c.nozzle, c.price_fen_per_l)

    # --- the price path (devices.base.PriceWriter, used by edge_nodes/prices.py) ---------------------

    async def fp_idle(self, fuelling_point: int) -> bool:
        """The fuelling point's IFSF state read now: Closed or Idle (nothing open, nothing authorised)."""
        key = f"fp{fuelling_point}/state"
        spec = next(p for p in dispenser_v1(fuelling_point, 1) if p.key == key)
        return await self._read(spec) in IDLE_STATES

    async def write_price(self, fuelling_point: int, nozzle: int, price_fen: int) -> tuple[Result, str]:
        key = f"fp{fuelling_point}/nozzle{nozzle}/price"
        spec = next((p for p in dispenser_v1(fuelling_point, nozzle) if p.key == key), None)
        if spec is None:
            return "bad-argument", f"no price register {key!r} in the register map"
        await self.conn.write(spec, price_fen)
        for _ in range(40):                        # acknowledged only when the device reads it back
            if await self._read(spec) == price_fen:
                return "accepted", f"price read back: {price_fen} fen/L"
            await asyncio.sleep(0.05)
        return "refused", f"the device did not read back the new price (it shows {await self._read(spec)} fen/L)"


def dispenser_commands(connection: ModbusConnection) -> dict[str, DeviceCommand]:
    target = DispenserCommands(connection)
    return {AUTHORIZE_NOZZLE: DeviceCommand(AuthorizeNozzle, target.authorize),
            STOP_FUELLING: DeviceCommand(StopFuelling, target.stop),
            SET_PRICE: DeviceCommand(SetPrice, target.set_price)}


def fuelling_watcher(code: str, fuelling_points: int, connection: ModbusConnection, node: NodeServices) -> Watcher:
    """Every fuelling of each side read in order, or reported as a gap (``fuelling_recovery``)."""
    recovery = FuellingRecovery(node.station, node.outbox, node.emit_event, {code: DispenserCommands(connection)},
                                price_set_at=node.price_set_at)

    async def watch(before: dict[str, Reading], now: dict[str, Reading]) -> None:
        await recovery.on_readings(code, fuelling_points, now)
    return watch


def connection_of(source: DeviceSource) -> ModbusConnection:
    connection = getattr(source, "connection", None)
    if not isinstance(connection, ModbusConnection):
        raise TypeError(f"{source.code}: a dispenser needs a Modbus source")
    return connection
