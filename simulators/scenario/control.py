"""The control port: a line-based TCP service on 127.0.0.1 to watch and steer a running scenario.

One command per line (UTF-8); the answer is zero or more lines, then a last line ``ok`` or
``error: <why>``. Try it with ``nc 127.0.0.1 7700`` (commands in docs/simulators.md)::

    status                              simulated time, counts, tanks, positions, active faults
    car [GRADE] [amount|volume|full]    send a car now (what it wants is drawn unless given)
    cng | lng | ev                      send a CNG car, an LNG truck, an EV now
    delivery TANK LITRES                a tanker for tank-1 (or 1) now
    fault DEVICE FAULT [SECONDS] [key=value …]     inject a fault, cleared after SECONDS if given
    clear [DEVICE|all] [FAULT]          end active faults
    faults                              list active faults
    help | quit | stop                  this list | close the connection | end the run
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol

from simulators.scenario.fault_table import DESCRIPTIONS
from simulators.scenario.timing import parse_seconds

log = logging.getLogger(__name__)
MAX_LINE = 1024
USAGE = (
    "status                              模拟状态 simulated time, counts, tanks, positions, faults",
    "car [GRADE] [amount|volume|full]    来一辆车 send a car now",
    "cng | lng | ev                      来一辆 CNG 车 / LNG 车 / 电动车 now",
    "delivery TANK LITRES                油罐车卸油 a tanker for tank-1 (or 1) now",
    "fault DEVICE FAULT [SECONDS] [key=value …]   注入故障 inject a fault",
    "clear [DEVICE|all] [FAULT]          清除故障 end active faults",
    "faults                              当前故障 active faults",
    "help | quit | stop                  帮助 | 断开 close | 结束运行 end the run",
)


class Controlled(Protocol):
    """What the control port can ask of a running scenario (``Scenario`` implements it)."""

    def status_lines(self) -> list[str]: ...

    def send_car(self, grade: int | None, preset: str | None) -> str: ...

    def send_gas(self, gas: str) -> str: ...

    def send_ev(self) -> str: ...

    def send_delivery(self, tank: int, litres: float) -> str: ...

    async def inject_fault(self, device: str, fault: str, duration_s: float | None, args: dict[str, object]) -> str: ...

    async def clear_faults(self, device: str | None, fault: str | None) -> str: ...

    def fault_lines(self) -> list[str]: ...

    def request_stop(self) -> None: ...


class CommandError(ValueError):
    """A command line that cannot be carried out; the message goes back to the client."""


def parse_value(text: str) -> object:
    """``key=value`` values: whole numbers, numbers, true/false, else the text."""
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    return text


async def execute(target: Controlled, line: str) -> list[str]:
    """Carry out one command line; the answer lines (``CommandError`` / ``ValueError`` for a bad one)."""
    words = line.split()
    if not words:
        return []
    command, rest = words[0].lower(), words[1:]
    if command == "help":
        return [*USAGE, "faults 故障:", *(f"  {name:<20} {text}" for name, text in sorted(DESCRIPTIONS.items()))]
    if command == "status":
        return target.status_lines()
    if command == "car":
        grade = int(rest[0]) if rest and rest[0].isdigit() else None
        presets = [w for w in rest if w in ("amount", "volume", "full")]
        if len(rest) != (grade is not None) + len(presets):
            raise CommandError("usage: car [GRADE] [amount|volume|full]")
        return [target.send_car(grade, presets[0] if presets else None)]
    if command in ("cng", "lng"):
        return [target.send_gas(command)]
    if command == "ev":
        return [target.send_ev()]
    if command == "delivery":
        if len(rest) != 2:
            raise CommandError("usage: delivery TANK LITRES (e.g. delivery tank-1 20000)")
        return [target.send_delivery(int(rest[0].removeprefix("tank-")), float(rest[1]))]
    if command == "fault":
        return [await _fault(target, rest)]
    if command == "clear":
        device = rest[0] if rest and rest[0] != "all" else None
        return [await target.clear_faults(device, rest[1] if len(rest) > 1 else None)]
    if command == "faults":
        return target.fault_lines() or ["无 none"]
    if command == "stop":
        target.request_stop()
        return ["结束运行 stopping the run"]
    raise CommandError(f"unknown command {command!r} (try help)")


async def _fault(target: Controlled, words: list[str]) -> str:
    if len(words) < 2:
        raise CommandError("usage: fault DEVICE FAULT [SECONDS] [key=value …]")
    device, fault, rest = words[0], words[1], words[2:]
    duration: float | None = None
    if rest and "=" not in rest[0]:
        duration = parse_seconds(rest.pop(0))
    args: dict[str, object] = {}
    for word in rest:
        key, sep, value = word.partition("=")
        if not sep or not key:
            raise CommandError(f"expected key=value, got {word!r}")
        args[key] = parse_value(value)
    return await target.inject_fault(device, fault, duration, args)


class ControlPort:
    """``async with ControlPort(target, port) as control: control.port``; one task per client."""

    def __init__(self, target: Controlled, port: int, host: str = "127.0.0.1") -> None:
        self._target = target
        self._host, self._port = host, port
        self._server: asyncio.Server | None = None
        self._clients: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("control port not started")
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def __aenter__(self) -> ControlPort:
        self._server = await asyncio.start_server(self._serve, self._host, self._port, limit=MAX_LINE)
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._clients):
            task.cancel()
        await asyncio.gather(*self._clients, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._clients.add(task)
        try:
            while True:
                try:
                    raw = await reader.readline()
                except (ValueError, asyncio.LimitOverrunError):
                    writer.write(b"error: line too long\n")
                    break
                if not raw:
                    break
                line = raw.decode("utf-8", errors="replace").strip()
                if line.lower() in ("quit", "exit"):
                    writer.write(b"ok\n")
                    break
                writer.write(await self._answer(line))
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            if task is not None:
                self._clients.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _answer(self, line: str) -> bytes:
        try:
            lines = [*await execute(self._target, line), "ok"]
        except (CommandError, ValueError, KeyError) as exc:
            lines = ["error: " + " ".join(str(exc).split())]  # one line, whatever the message
        except Exception as exc:  # a bug must not take the port down; say so and go on
            log.exception("control command %r failed", line)
            lines = [f"error: internal error {exc!r}"]
        return ("\n".join(lines) + "\n").encode("utf-8")
