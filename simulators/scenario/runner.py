"""A scenario run: the station, its traffic and faults on one clock, from start to closing time.

``Scenario`` is the composition of the package::

    async with Scenario(load_scenario(path), speed=120, seed=7) as scenario:
        tally = await scenario.run(3600)        # one simulated hour, then the forecourt drains

On entry it starts every simulator (``SimulatedStation``), the control port and then the clock,
so that simulated time starts at 0 with everything listening. ``run`` starts the arrival streams,
the scheduled tankers and faults, the pipes from tanks to nozzles and the periodic summary;
at the end of the duration (or a ``stop`` command) time stands still while arrivals stop and
faults are cleared; then the cars at the pumps get up to ``simulation.drain`` seconds to finish,
EVs unplug, and ``run`` returns the tally.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import time
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TextIO, TypeVar
from zoneinfo import ZoneInfo

from simulators.scenario.clock import ScenarioClock
from simulators.scenario.config import ScenarioConfig
from simulators.scenario.console import Console
from simulators.scenario.context import Context, Role
from simulators.scenario.control import ControlPort
from simulators.scenario.customers import fuel_car, gas_vehicle
from simulators.scenario.ev import ev_driver
from simulators.scenario.faults import FaultBook
from simulators.scenario.lanes import Lanes
from simulators.scenario.loading import with_overrides
from simulators.scenario.runner_status import ScenarioControls, build_spots, spot_usable
from simulators.scenario.station import SimulatedStation
from simulators.scenario.tally import Tally
from simulators.scenario.tanks import Pipes, reorder_watch, tanker
from simulators.scenario.timing import format_clock
from simulators.scenario.traffic import Arrival, TrafficGenerator

_A = TypeVar("_A", bound=Arrival)
#: How often waiting customers are offered spots that became usable (a repaired pump).
ASSIGN_EVERY_S = 5.0
DRAIN_POLL_S = 5.0


class Scenario(ScenarioControls):
    """One run of a scenario file; ``speed`` and ``seed`` replace the file's when given."""

    def __init__(
        self, config: ScenarioConfig, *, speed: float | None = None, seed: int | None = None,
        out: TextIO | None = None,
    ) -> None:
        self.config = with_overrides(config, speed=speed, seed=seed)
        simulation = self.config.simulation
        self.clock = ScenarioClock(simulation.speed, start=self.config.start())
        self.station = SimulatedStation(self.config, self.clock)
        zone = ZoneInfo(self.config.station.timezone)
        self.console = Console(self.clock, zone, {g.id: g.name for g in self.config.station.grades}, out)
        self.tally = Tally()
        self.ctx = Context(self.config, self.clock, self.station, Lanes([], self.clock, lambda _: False),
                           self.tally, self.console)
        self.faults = FaultBook(self.ctx)
        local = self.config.start().astimezone(zone)
        day_offset = local.hour * 3600 + local.minute * 60 + local.second
        self.traffic = TrafficGenerator(simulation.seed, day_offset, [g.id for g in self.config.station.grades])
        self._manual = itertools.count(9001)  # customers sent by command
        self._control_rng = self.traffic.stream("control")
        self.control: ControlPort | None = None
        self._stack = contextlib.AsyncExitStack()
        self._driver: asyncio.Task[None] | None = None
        self._workers: list[asyncio.Task[None]] = []
        self._schedules: list[asyncio.Task[None]] = []
        self._closing = asyncio.Event()
        self._end_s = math.inf
        self._pipes: Pipes | None = None

    # ----- lifecycle -------------------------------------------------------------------------
    async def __aenter__(self) -> Scenario:
        try:
            await self._stack.enter_async_context(self.station)
            self.ctx.lanes = Lanes(build_spots(self.config), self.clock, lambda s: spot_usable(self.station, s))
            self._pipes = Pipes(self.ctx)
            port = self.config.simulation.control_port
            if port is not None:
                self.control = await self._stack.enter_async_context(ControlPort(self, port))
        except BaseException:
            await self._stack.aclose()
            raise
        self._driver = asyncio.create_task(self.clock.run(), name="scenario-clock")
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._cancel([*self._workers, *self.ctx.customers, *self.ctx.drivers, *self.ctx.background])
        try:
            await self._stack.aclose()
        finally:
            if self._driver is not None:
                await self._cancel([self._driver])

    def request_stop(self) -> None:
        """End the run now (the control port's ``stop``): closing time starts at this instant."""
        self._close_now()

    def _close_now(self) -> None:
        if not self._closing.is_set():
            self.clock.pause()  # resumed by _close once arrivals are stopped and faults cleared
            self._closing.set()

    # ----- the run ---------------------------------------------------------------------------
    async def run(self, duration_s: float | None) -> Tally:
        """Run the traffic for ``duration_s`` simulated seconds (None: until ``stop``), then drain."""
        real_start = time.monotonic()
        self._end_s = math.inf if duration_s is None else duration_s
        self._print_start(duration_s)
        self._schedules = [asyncio.create_task(c) for c in self._arrivals_and_schedules()]
        self._workers = [*self._schedules, *(asyncio.create_task(c) for c in self._services())]
        if duration_s is not None:
            self._workers.append(asyncio.create_task(self._closing_bell(duration_s)))
        finished = False
        try:
            await self._closing.wait()
            await self._close(real_start)
            finished = True
        finally:
            if self._closing.is_set() and not finished:
                self.clock.resume()
            await self._cancel(self._workers)
            if not finished:
                self._summary(final=True)
        return self.tally

    async def _closing_bell(self, duration_s: float) -> None:
        await self.clock.sleep(duration_s)
        self._close_now()

    def _arrivals_and_schedules(self) -> Iterator[Coroutine[Any, Any, None]]:
        traffic, ctx = self.config.traffic, self.ctx
        yield self._arrivals(self.traffic.fuel_cars(traffic.fuel), lambda car: fuel_car(ctx, car), "car")
        if self.station.skid is not None:
            yield self._arrivals(self.traffic.gas_vehicles(traffic.cng, "cng"), lambda v: gas_vehicle(ctx, v), "cng")
            yield self._arrivals(self.traffic.gas_vehicles(traffic.lng, "lng"), lambda v: gas_vehicle(ctx, v), "lng")
        yield self._arrivals(self.traffic.ev_drivers(traffic.ev), lambda d: ev_driver(ctx, d), "ev", "driver")
        yield self.faults.run_schedule([f for f in self.config.faults if f.at < self._end_s])
        yield self._deliveries()
        if traffic.reorder is not None:
            yield reorder_watch(ctx, traffic.reorder)

    def _services(self) -> Iterator[Coroutine[Any, Any, None]]:
        """What keeps running until the forecourt has drained."""
        if self._pipes is not None:
            yield self._pipes.run()
        yield self._every(ASSIGN_EVERY_S, self.ctx.lanes.assign)
        yield self._every(self.config.simulation.summary_every, self._summary)

    async def _arrivals(
        self, stream: Iterator[_A], act: Callable[[_A], Coroutine[Any, Any, None]], kind: str, role: Role = "customer"
    ) -> None:
        for item in stream:
            habits = item.habits
            if habits.at_s >= self._end_s:
                return
            await self.clock.sleep_until(habits.at_s)
            self.ctx.spawn(act(item), f"{kind}-{habits.number}", role=role)

    async def _deliveries(self) -> None:
        for delivery in sorted(self.config.traffic.deliveries, key=lambda d: d.at):
            if delivery.at >= self._end_s:
                return
            await self.clock.sleep_until(delivery.at)
            self.ctx.spawn(tanker(self.ctx, delivery, "计划", "scheduled"), f"tanker-{delivery.tank}",
                           role="background")

    async def _every(self, seconds: float, action: Callable[[], None]) -> None:
        while True:
            await self.clock.sleep(seconds)
            action()

    async def _close(self, real_start: float) -> None:
        """Closing time (the clock is paused): no more arrivals, faults cleared, then the forecourt drains."""
        try:
            closing = self.clock.elapsed()
            self.console.event("停止进车，清除故障", "closing: no more arrivals, faults cleared, forecourt drains")
            await self._cancel(self._schedules)
            await self.faults.clear_all()
        finally:
            self.clock.resume()
        until = closing + self.config.simulation.drain
        while self.ctx.customers and self.clock.elapsed() < until:
            await self.clock.sleep(min(DRAIN_POLL_S, until - self.clock.elapsed()))
        with self.clock.hold():
            if self.ctx.customers:
                self.console.event(f"{len(self.ctx.customers)} 位顾客未完成，结束",
                                   f"{len(self.ctx.customers)} customers still on the forecourt at the end")
            await self._cancel([*self.ctx.customers, *self.ctx.drivers, *self.ctx.background])
            self._summary(final=True)
        real = time.monotonic() - real_start
        simulated = self.clock.elapsed()
        self.console.print(f"模拟 simulated {format_clock(simulated)} 用时 real {real:.1f} s "
                           f"(≈ {simulated / max(real, 1e-9):.0f}× real time)")

    def _summary(self, final: bool = False) -> None:
        if self._pipes is not None:
            self._pipes.flush()
        self.console.summary(self.tally, self.station.tank_volumes(), self.station.charging_wh(), final=final)

    def _print_start(self, duration_s: float | None) -> None:
        sim, station = self.config.simulation, self.config.station
        local = self.config.start().astimezone(ZoneInfo(station.timezone))
        length = format_clock(duration_s) if duration_s is not None else "直到停止 until stopped"
        self.console.print(f"站点 station {station.code} {station.name}: 模拟开始 start {local:%Y-%m-%d %H:%M} "
                           f"({station.timezone}), 时长 duration {length}, 速度 speed {sim.speed:g}×, "
                           f"种子 seed {sim.seed}")
        for code, what, where in self.station.endpoints():
            self.console.print(f"  {code:<12} {what:<24} {where}")
        if self.control is not None:
            self.console.print(f"  控制端口 control port 127.0.0.1:{self.control.port} (help: docs/simulators.md)")

    @staticmethod
    async def _cancel(tasks: list[asyncio.Task[None]]) -> None:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
