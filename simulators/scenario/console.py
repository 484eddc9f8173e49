"""What a person watching a scenario run sees: one line per event, in Chinese and English.

Each line starts with the station's local simulated time. ``event`` prints arrivals, fills,
deliveries, faults; ``summary`` prints the periodic line: simulated time, cars served / waited /
left, litres by grade, tank volumes, gas kg and charging kWh.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from datetime import datetime
from typing import TextIO
from zoneinfo import ZoneInfo

from simulators.scenario.clock import ScenarioClock
from simulators.scenario.tally import Tally
from simulators.scenario.timing import format_clock


class Console:
    def __init__(self, clock: ScenarioClock, zone: ZoneInfo, grade_names: Mapping[int, str],
                 out: TextIO | None = None) -> None:
        self._clock = clock
        self._zone = zone
        self._grades = dict(grade_names)
        self._out = out if out is not None else sys.stdout
        self.lines = 0

    def local_now(self) -> datetime:
        return self._clock.now().astimezone(self._zone)

    def event(self, zh: str, en: str) -> None:
        self.print(f"{zh} | {en}")

    def print(self, text: str) -> None:
        self.lines += 1
        print(f"{self.local_now():%H:%M:%S} {text}", file=self._out, flush=True)

    def summary(self, tally: Tally, tanks: Mapping[int, float], charging_wh: float, *, final: bool = False) -> None:
        cars, gas, evs = tally.cars, tally.gas, tally.evs
        litres = ", ".join(
            f"{self._grades.get(g, g)} {cl / 100:.1f} L" for g, cl in sorted(tally.volume_cl.items())
        ) or "0 L"
        money = sum(tally.amount_fen.values()) + sum(tally.gas_fen.values())
        tank_text = " ".join(f"{n}#{v:,.0f}L" for n, v in tanks.items()) or "-"
        head = "结束汇总 final" if final else "汇总 summary"
        self.print(
            f"── {head} {format_clock(self._clock.elapsed())}: "
            f"车辆 cars {cars.served} 已加 served / {cars.waited} 等待 waited / {cars.left} 离开 left; "
            f"{litres}; 销售 sales {money / 100:,.2f} 元; 油罐 tanks {tank_text}; "
            f"CNG {tally.gas_kg['cng']:.1f} kg, LNG {tally.gas_kg['lng']:.1f} kg ({gas.served} 辆 vehicles); "
            f"充电 charging {charging_wh / 1000:.1f} kWh ({evs.served} 次完成 sessions done, {evs.left} 离开 left)"
        )
