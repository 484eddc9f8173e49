"""Carries out commands on the station's devices and answers each with an acknowledgement event.

Dispensers (register map v1): authorise writes the preset registers then the command register
and reads the command result and counter back; a price change writes the nozzle's price and is
acknowledged only when the device reads the new price back. Every command has a deadline; the
acknowledgement goes through the outbox like any event, so it is never lost. A command that is not a
readable CloudEvent cannot be answered (it has no id to answer to): it is logged and counted
(``forecourt_edge_commands_total{result="unreadable"}``); every other outcome is counted by its result.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any, Protocol

from prometheus_client import Counter
from pydantic import ValidationError

from edge_nodes.metrics import REGISTRY as EDGE_REGISTRY
from edge_nodes.poller import ModbusPoller
from protocol_adapters.modbus.client import ModbusConnection
from protocol_adapters.modbus.codec import ReadBlock
from protocol_adapters.modbus.points import DType, PointSpec, Table
from protocol_adapters.modbus.profiles import dispenser_v1
from protocol_adapters.ocpp.auth import AuthorizationCache
from protocol_adapters.readings import AdapterError, DeviceUnavailable
from telemetry.contracts.commands import (
    COMMANDS,
    Acknowledgement,
    AuthorizeNozzle,
    ReplaceIdTags,
    Result,
    SetPrice,
    StopFuelling,
)
from telemetry.contracts.events import CloudEvent

log = logging.getLogger(__name__)

COMMANDS_SEEN = Counter("forecourt_edge_commands_total", "Commands received, by result", ["result"],
                        registry=EDGE_REGISTRY)
COMMAND_DEADLINE_S = 10.0
_RESULTS: dict[int, Result] = {0: "accepted", 1: "refused", 2: "bad-argument"}
_PRESETS = {"none": 0, "volume": 1, "amount": 2}
_AUTHORISE, _STOP = 1, 2


class DispenserCommands:
    """Writes to one dispenser through the connection its poller uses (so the two never interleave)."""

    def __init__(self, connection: ModbusConnection) -> None:
        self.conn = connection

    async def _read(self, address: int, dtype: DType = DType.U16) -> int:
        spec = PointSpec("v", address, dtype, integer=True)
        values = await self.conn.read(ReadBlock(spec.table, address, spec.count, (spec,)))
        return int(values["v"] or 0)

    async def _execute(self, fp: int, command: int, arguments: list[int] | None = None) -> tuple[Result, str]:
        base = 100 * fp
        counter = await self._read(base + 97)
        if arguments is not None:
            await self.conn.write_registers(base + 91, arguments)
        await self.conn.write_registers(base + 90, [command])
        for _ in range(40):                        # the device takes the command on its next scan
            if await self._read(base + 97) != counter:
                code = await self._read(base + 96)
                return _RESULTS.get(code, "refused"), f"device result code {code}"
            await asyncio.sleep(0.05)
        return "timeout", "the device did not take the command"

    async def read_transaction(self, fp: int, number: int) -> dict[str, object] | None:
        """A transaction still in the pump's buffer, by number, through the window (B+98..99, FC04
        B+20..39); None when the pump no longer holds it."""
        base = 100 * fp
        await self.conn.write_registers(base + 98, [number >> 16, number & 0xFFFF])
        specs = tuple(replace(p, key=p.key.rsplit("/", 1)[1], table=Table.INPUT)
                      for p in dispenser_v1(fp, 1) if p.key.startswith(f"fp{fp}/last/"))
        values = await self.conn.read(ReadBlock(Table.INPUT, base + 20, 20, specs))
        return values if values.get("transaction") == number else None  # type: ignore[return-value]

    async def authorize(self, c: AuthorizeNozzle) -> tuple[Result, str]:
        value = c.preset_value if c.preset_type != "none" else 0
        return await self._execute(c.fuelling_point, _AUTHORISE,
                                   [_PRESETS[c.preset_type], value >> 16, value & 0xFFFF, c.nozzle])

    async def stop(self, c: StopFuelling) -> tuple[Result, str]:
        return await self._execute(c.fuelling_point, _STOP)

    async def set_price(self, c: SetPrice) -> tuple[Result, str]:
        address = 100 * c.fuelling_point + 40 + 12 * (c.nozzle - 1) + 2
        spec = PointSpec("price", address, DType.U32, integer=True, writable=True)
        await self.conn.write(spec, c.price_fen_per_l)
        for _ in range(40):                        # acknowledged only when the device reads it back
            if await self._read(address, DType.U32) == c.price_fen_per_l:
                return "accepted", f"price read back: {c.price_fen_per_l} fen/L"
            await asyncio.sleep(0.05)
        return "refused", "the device did not read back the new price"


class Writable(Protocol):
    async def write(self, key: str, value: Any) -> None: ...


class CommandRunner:
    """Parses a command event, runs it against its device with a deadline, and emits the acknowledgement."""

    def __init__(self, station: str, dispensers: dict[str, ModbusPoller],
                 emit_event: Callable[[CloudEvent], Awaitable[None]],
                 writable: dict[str, Writable] | None = None,
                 id_tag_lists: dict[str, AuthorizationCache] | None = None) -> None:
        self.station = station
        self.dispensers = {code: DispenserCommands(p.connection) for code, p in dispensers.items()}
        self.writable = writable or {}
        self.id_tag_lists = id_tag_lists or {}
        self._emit = emit_event

    async def write_metrics(self, device: str, values: dict[str, Any], command_id: str) -> None:
        """A Sparkplug DCMD: write each metric to the device, then acknowledge (all, or the first failure)."""
        result: Result = "accepted"
        detail = f"wrote {', '.join(sorted(values))}"
        target = self.writable.get(device)
        try:
            if target is None:
                raise ValueError(f"device {device!r} takes no writes")
            async with asyncio.timeout(COMMAND_DEADLINE_S):
                for key, value in values.items():
                    await target.write(key, value)
        except ValueError as exc:
            result, detail = "bad-argument", str(exc)
        except TimeoutError:
            result, detail = "timeout", f"no answer within {COMMAND_DEADLINE_S:.0f} s"
        except DeviceUnavailable as exc:
            result, detail = "device-unavailable", str(exc)
        except AdapterError as exc:
            result, detail = "refused", str(exc)
        log.info("DCMD %s %s: %s (%s)", device, command_id, result, detail)
        await self._acknowledge(command_id, "sparkplug.DCMD", result, detail)

    async def handle(self, raw: bytes) -> None:
        try:
            event = CloudEvent.from_bytes(raw)
        except (ValueError, RecursionError) as exc:    # ValidationError is a ValueError
            COMMANDS_SEEN.labels("unreadable").inc()
            log.warning("ignored a command that is not a valid CloudEvent (%d bytes): %s", len(raw),
                        str(exc)[:300].encode("unicode_escape").decode())
            return
        result, detail = await self._run(event)
        COMMANDS_SEEN.labels(result).inc()
        log.info("command %s %s: %s (%s)", event.type, event.id, result, detail)
        await self._acknowledge(event.id, event.type, result, detail)

    async def _acknowledge(self, command_id: str, command_type: str, result: Result, detail: str) -> None:
        ack = Acknowledgement(command_id=command_id, command_type=command_type, result=result, detail=detail[:2000])
        await self._emit(ack.envelope(source=f"forecourt/{self.station}/edge", subject=command_id))

    def _replace_id_tags(self, command: ReplaceIdTags) -> tuple[Result, str]:
        cache = self.id_tag_lists.get(command.device)
        if cache is None:
            return "bad-argument", f"no OCPP central system {command.device!r} at this station"
        try:
            cache.replace(command.id_tags)      # all or nothing, written to disk for offline use
        except ValueError as exc:
            return "bad-argument", str(exc)
        return "accepted", f"{len(command.id_tags)} id tags in force"

    async def _run(self, event: CloudEvent) -> tuple[Result, str]:
        model = COMMANDS.get(event.type)
        if model is None:
            return "unknown-command", f"no such command: {event.type}"
        try:
            command = model.model_validate(event.data)
        except ValidationError as exc:
            return "bad-argument", str(exc.errors()[0].get("msg"))
        if isinstance(command, ReplaceIdTags):
            return self._replace_id_tags(command)
        assert isinstance(command, AuthorizeNozzle | StopFuelling | SetPrice)  # noqa: S101 - COMMANDS lists them
        target = self.dispensers.get(command.device)
        if target is None:
            return "bad-argument", f"no dispenser {command.device!r} at this station"
        try:
            async with asyncio.timeout(COMMAND_DEADLINE_S):
                if isinstance(command, AuthorizeNozzle):
                    return await target.authorize(command)
                if isinstance(command, SetPrice):
                    return await target.set_price(command)
                assert isinstance(command, StopFuelling)  # noqa: S101 - COMMANDS has exactly these three
                return await target.stop(command)
        except TimeoutError:
            return "timeout", f"no answer within {COMMAND_DEADLINE_S:.0f} s"
        except DeviceUnavailable as exc:
            return "device-unavailable", str(exc)
        except AdapterError as exc:
            return "refused", str(exc)
