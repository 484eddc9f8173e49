"""What every actor of a scenario shares: the clock, the station, the lanes, the tally, the console.

Customers, tankers and faults are coroutines on the scenario clock; ``spawn`` starts one and
keeps it so that the end of a run can wait for the cars still at the pumps (EV drivers unplug
then, tankers on the way are called off). ``arrive`` is the
common start of every customer: count it, find a spot or queue for one, or leave.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, Literal

from simulators.camera.model import UnknownScene
from simulators.scenario.clock import ScenarioClock
from simulators.scenario.config import ScenarioConfig
from simulators.scenario.console import Console
from simulators.scenario.lanes import Lanes, Spot
from simulators.scenario.station import SimulatedStation
from simulators.scenario.tally import Tally, Visits
from simulators.scenario.traffic import Habits

Role = Literal["customer", "driver", "background"]


@dataclass(eq=False)
class Context:
    config: ScenarioConfig
    clock: ScenarioClock
    station: SimulatedStation
    lanes: Lanes
    tally: Tally
    console: Console
    customers: set[asyncio.Task[None]] = field(default_factory=set)  # at the pumps: the drain waits for them
    drivers: set[asyncio.Task[None]] = field(default_factory=set)  # at the chargers: unplug when the run ends
    background: set[asyncio.Task[None]] = field(default_factory=set)  # tankers on the way, faults waiting
    _no_scenes_told: bool = False

    def spawn(self, coroutine: Coroutine[Any, Any, None], name: str, *, role: Role = "customer") -> asyncio.Task[None]:
        """Start an actor in one of the three groups above."""
        task = asyncio.create_task(coroutine, name=name)
        {"customer": self.customers, "driver": self.drivers, "background": self.background}[role].add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[None]) -> None:
        for group in (self.customers, self.drivers, self.background):
            group.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.console.event("模拟出错", f"scenario actor {task.get_name()} failed: {task.exception()!r}")

    def grade_name(self, grade: int) -> str:
        for g in self.config.station.grades:
            if g.id == grade:
                return g.name
        return f"{grade}#"

    async def arrive(
        self, visits: Visits, want: str, who: str, habits: Habits, max_queue: int, zh: str, en: str
    ) -> Spot | None:
        """Count the arrival; a spot held for ``who``, or None when it left without one."""
        visits.arrived += 1
        spot = self.lanes.take(want, who, habits.pick)
        if spot is not None:
            self.console.event(f"{zh} → {spot.label}", f"{en} → {spot.label}")
            return spot
        if self.lanes.waiting(want) >= max_queue or habits.patience_s <= 0:
            visits.left += 1
            self.console.event(f"{zh}，无空位离开", f"{en}: no free position, drove on")
            return None
        visits.waited += 1
        self.console.event(f"{zh}，排队等待", f"{en}: waits for a free position")
        spot = await self.lanes.wait(want, who, habits.pick, habits.patience_s)
        if spot is None:
            visits.left += 1
            self.console.event(f"{who} 等待超时离开", f"{who} waited {habits.patience_s:.0f} s and left")
            return None
        self.console.event(f"{who} → {spot.label}", f"{who} pulls in at {spot.label}")
        return spot

    def show_car(self, spot: Spot) -> None:
        """The camera at this fuelling position (if any) sees a vehicle now."""
        cameras = self.station.cameras
        if cameras is None or spot.number is None:
            return
        try:
            cameras.camera_at(spot.number).car_arrived()
        except KeyError:
            return
        except UnknownScene:
            if not self._no_scenes_told:
                self._no_scenes_told = True
                self.console.event("摄像头无车辆图片", "cameras: no vehicle images in scenes_dir, lanes stay empty")

    def hide_car(self, spot: Spot) -> None:
        cameras = self.station.cameras
        if cameras is None or spot.number is None:
            return
        try:
            cameras.camera_at(spot.number).car_left()
        except KeyError:
            return
