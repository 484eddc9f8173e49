"""Carries out commands on the station's devices and answers each with an acknowledgement event.

Each device kind says which command types it takes and how (``DeviceEntry.commands``, e.g. the
dispenser's in ``edge_nodes/devices/dispenser.py``); this runner parses a command event, finds the
handler of its ``device`` and type, runs it with a deadline and acknowledges the outcome. The
acknowledgement goes through the outbox like any event, so it is never lost. A command that is not a
readable CloudEvent cannot be answered (it has no id to answer to): it is logged and counted
(``forecourt_edge_commands_total{result="unreadable"}``); every other outcome is counted by its result.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from prometheus_client import Counter
from pydantic import BaseModel, ValidationError

from edge_nodes.metrics import REGISTRY as EDGE_REGISTRY
from protocol_adapters.readings import AdapterError, DeviceUnavailable
from telemetry.contracts.commands import COMMANDS, Acknowledgement, Result
from telemetry.contracts.events import CloudEvent
from telemetry.contracts.events.alarms import ACKNOWLEDGE_ALARM

log = logging.getLogger(__name__)
#: commands on the station's command topic that the station server carries out: the edge node leaves them alone
STATION_SERVER_COMMANDS = frozenset({ACKNOWLEDGE_ALARM})

COMMANDS_SEEN = Counter("forecourt_edge_commands_total", "Commands received, by result", ["result"],
                        registry=EDGE_REGISTRY)
COMMAND_DEADLINE_S = 10.0


@dataclass(frozen=True, slots=True)
class DeviceCommand:
    """One command type a device takes: its payload model (with a ``device`` field) and what runs it."""

    model: type[BaseModel]
    run: Callable[[Any], Awaitable[tuple[Result, str]]]


class Writable(Protocol):
    async def write(self, key: str, value: Any) -> None: ...


class CommandRunner:
    """Parses a command event, runs it against its device with a deadline, and emits the acknowledgement."""

    def __init__(self, station: str, handlers: dict[tuple[str, str], DeviceCommand],
                 emit_event: Callable[[CloudEvent], Awaitable[None]],
                 writable: dict[str, Writable] | None = None) -> None:
        self.station = station
        self.handlers = handlers            # by (device code, command type)
        self.models: dict[str, type[BaseModel]] = {**COMMANDS, **{t: h.model for (_, t), h in handlers.items()}}
        self.writable = writable or {}
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
        if event.type in STATION_SERVER_COMMANDS:    # on the same topic, carried out by the station server
            COMMANDS_SEEN.labels("for-station-server").inc()
            return
        result, detail = await self._run(event)
        COMMANDS_SEEN.labels(result).inc()
        log.info("command %s %s: %s (%s)", event.type, event.id, result, detail)
        await self._acknowledge(event.id, event.type, result, detail)

    async def _acknowledge(self, command_id: str, command_type: str, result: Result, detail: str) -> None:
        ack = Acknowledgement(command_id=command_id, command_type=command_type, result=result, detail=detail[:2000])
        await self._emit(ack.envelope(source=f"forecourt/{self.station}/edge", subject=command_id))

    async def _run(self, event: CloudEvent) -> tuple[Result, str]:
        model = self.models.get(event.type)
        if model is None:
            return "unknown-command", f"no such command: {event.type}"
        try:
            command = model.model_validate(event.data)
        except ValidationError as exc:
            return "bad-argument", str(exc.errors()[0].get("msg"))
        device = str(getattr(command, "device", ""))
        handler = self.handlers.get((device, event.type))
        if handler is None:
            return "bad-argument", f"no device {device!r} at this station takes {event.type}"
        try:
            async with asyncio.timeout(COMMAND_DEADLINE_S):
                return await handler.run(command)
        except TimeoutError:
            return "timeout", f"no answer within {COMMAND_DEADLINE_S:.0f} s"
        except DeviceUnavailable as exc:
            return "device-unavailable", str(exc)
        except AdapterError as exc:
            return "refused", str(exc)
