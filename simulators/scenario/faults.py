"""Faults over time: the scenario's schedule, commands from the control port, and clearing them.

``FaultBook.inject`` checks a fault against ``fault_table`` (unknown device, fault or argument:
``FaultError``), carries it out (``fault_link``, ``fault_equipment``), records it in the tally, logs it, and
clears it again after ``duration`` simulated seconds when one is given. ``clear`` ends active
faults early; ``clear_all`` ends every one (the end of a run). A fault that undoes itself (a
counted burst of bad frames, a gas puff at a detector, one garbage frame to a CSMS) is recorded
as cleared when it starts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from simulators.scenario import fault_equipment as equipment
from simulators.scenario import fault_link as link
from simulators.scenario.context import Context
from simulators.scenario.fault_table import check_fault
from simulators.scenario.fault_target import Args, Target, Undo
from simulators.scenario.tally import FaultRecord
from simulators.scenario.timing import format_clock
from simulators.scenario.traffic_config import FaultEntry

#: Faults whose duration shapes the fault itself instead of clearing it later.
_SELF_TIMED = frozenset({"leak"})

#: fault name -> the function that carries it out (``fault_table.FAULTS`` says on which devices)
ACTIONS: Mapping[str, Callable[[Target, Args], Awaitable[Undo | None]]] = {
    "offline": link.offline, "slow": link.slow, "bad_checksum": link.bad_checksum, "garbage": link.garbage,
    "exception": link.exception, "stuck_sensor": equipment.stuck_sensor, "probe_out": equipment.probe_out,
    "leak": equipment.leak, "power_loss": equipment.power_loss, "charger_fault": equipment.charger_fault,
    "fp_error": equipment.fp_error, "compressor_trip": equipment.compressor_trip,
    "gas_dispenser_fault": equipment.gas_dispenser_fault, "sensor_failure": equipment.sensor_failure,
    "vacuum_loss": equipment.vacuum_loss, "frozen": equipment.frozen,
}


class FaultError(ValueError):
    """A fault that cannot be injected: unknown device, wrong fault for it, bad argument."""


@dataclass(eq=False)
class _Active:
    record: FaultRecord
    undo: Undo
    timer: asyncio.Task[None] | None = None


class FaultBook:
    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._targets = ctx.config.targets()
        self.active: list[_Active] = []
        self._pending: set[asyncio.Task[None]] = set()  # scheduled faults waiting for their moment

    def check(self, device: str, fault: str, args: dict[str, object]) -> str:
        """The device's kind; raises ``FaultError`` if the fault cannot hit it."""
        kind = self._targets.get(device)
        if kind is None:
            raise FaultError(f"no device {device!r}; known: {', '.join(self._targets)}")
        problem = check_fault(fault, kind, args)
        if problem:
            raise FaultError(problem)
        return kind

    async def inject(
        self, device: str, fault: str, args: dict[str, object], duration_s: float | None, source: str
    ) -> FaultRecord:
        kind = self.check(device, fault, args)
        clock, console = self._ctx.clock, self._ctx.console
        target = Target(self._ctx, device, kind, duration_s)
        try:
            undo = await ACTIONS[fault](target, args)
        except (ValueError, KeyError) as exc:
            raise FaultError(f"{fault} on {device}: {exc}") from exc
        started = target.fired_s if target.fired_s is not None else clock.elapsed()
        record = FaultRecord(device, fault, dict(args), started, source=source)
        self._ctx.tally.faults.append(record)
        text = "".join(f" {k}={v}" for k, v in args.items())
        lasting = f" {duration_s:g} s" if duration_s is not None and fault not in _SELF_TIMED else ""
        console.event(f"故障注入 {device} {fault}{text}{lasting}", f"fault injected: {device} {fault}{text}{lasting}")
        if undo is None:
            record.cleared_s = record.started_s
            return record
        active = _Active(record, undo)
        self.active.append(active)
        if duration_s is not None:
            active.timer = asyncio.create_task(self._clear_at(active, started + duration_s),
                                               name=f"clear-{device}-{fault}")
        return record

    async def clear(self, device: str | None = None, fault: str | None = None) -> int:
        """End the active faults on ``device`` (all devices when None) of ``fault`` (all when None)."""
        chosen = [a for a in self.active
                  if device in (None, a.record.device) and fault in (None, a.record.fault)]
        for active in chosen:
            if active.timer is not None and active.timer is not asyncio.current_task():
                active.timer.cancel()
            await self._end(active)
        return len(chosen)

    async def clear_all(self) -> int:
        """End every active fault and drop scheduled ones still waiting (a power cut waiting for a fuelling)."""
        for task in list(self._pending):
            task.cancel()
        await asyncio.gather(*self._pending, return_exceptions=True)
        return await self.clear()

    async def run_schedule(self, entries: list[FaultEntry]) -> None:
        """Inject the scenario's faults at their times (in time order; one failing is logged, not fatal)."""
        for entry in sorted(entries, key=lambda e: e.at):
            await self._ctx.clock.sleep_until(entry.at)
            task = self._ctx.spawn(self._scheduled(entry), f"fault-{entry.device}-{entry.fault}", role="background")
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    async def _scheduled(self, entry: FaultEntry) -> None:
        try:
            await self.inject(entry.device, entry.fault, dict(entry.args), entry.duration, "schedule")
        except FaultError as exc:
            self._ctx.console.event(f"故障注入失败 {exc}", f"fault not injected: {exc}")

    def describe(self) -> list[str]:
        return [
            f"{a.record.device} {a.record.fault} since {format_clock(a.record.started_s)}"
            + (f" {' '.join(f'{k}={v}' for k, v in a.record.args.items())}" if a.record.args else "")
            for a in self.active
        ]

    async def _clear_at(self, active: _Active, elapsed_s: float) -> None:
        await self._ctx.clock.sleep_until(elapsed_s)
        await self._end(active)

    async def _end(self, active: _Active) -> None:
        if active not in self.active:
            return
        self.active.remove(active)
        active.record.cleared_s = self._ctx.clock.elapsed()
        await active.undo()
        r = active.record
        self._ctx.console.event(f"故障清除 {r.device} {r.fault}", f"fault cleared: {r.device} {r.fault}")
        self._ctx.lanes.assign()
