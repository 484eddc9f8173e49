"""Flow physics of one delivery: start delay, ramp-up, slow-down before a preset, meter error.

The meter counts *indicated* volume (what the display, the totalizer and the register map
show); the fuel that really leaves the tank is ``indicated / (1 + meter_error_pct / 100)``.
A preset is met exactly: the indicated volume is clamped to the preset target.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from simulators.dispenser.states import PresetType
from simulators.dispenser.transactions import amount_fen, volume_for_amount_cl

#: Longest integration step; advance(dt) is split into steps of at most this many seconds.
MAX_STEP_S = 0.05
_EPSILON_S = 1e-9


@dataclass(frozen=True, slots=True)
class FlowLaw:
    """Flow rate of a nozzle as a function of run time and of the volume left to a preset."""

    max_flow_l_min: float
    ramp_up_s: float
    slowdown_l: float
    slowdown_fraction: float

    def flow_l_min(self, run_time_s: float, remaining_l: float | None) -> float:
        ramp = 1.0 if self.ramp_up_s <= 0 else min(1.0, run_time_s / self.ramp_up_s)
        flow = self.max_flow_l_min * ramp
        if remaining_l is not None and remaining_l <= self.slowdown_l:
            flow = min(flow, self.max_flow_l_min * self.slowdown_fraction)
        return flow


@dataclass(slots=True)
class Delivery:
    """The open transaction of a fuelling point: price captured at start, what the meter counted."""

    number: int
    nozzle: int
    grade_id: int
    price_fen: int
    preset_type: PresetType
    preset_value: int
    started_at: datetime
    law: FlowLaw
    meter_error_pct: float
    start_delay_s: float
    metered_cl: float = 0.0
    delivered_l: float = 0.0
    run_time_s: float = 0.0
    flow_l_min: float = 0.0

    @property
    def target_cl(self) -> int | None:
        """Indicated volume at which the preset is met (None without a preset)."""
        if self.preset_type is PresetType.VOLUME:
            return self.preset_value
        if self.preset_type is PresetType.AMOUNT:
            return volume_for_amount_cl(self.preset_value, self.price_fen)
        return None

    @property
    def preset_reached(self) -> bool:
        target = self.target_cl
        return target is not None and self.metered_cl >= target

    @property
    def volume_cl(self) -> int:
        """Displayed volume, 0.01 L (the meter's fraction below 0.01 L is not shown)."""
        return int(self.metered_cl)

    @property
    def amount_fen(self) -> int:
        """Displayed amount: volume x price half-up; an amount preset ends on exactly the preset."""
        if self.preset_type is PresetType.AMOUNT and self.preset_reached and self.volume_cl > 0:
            return self.preset_value
        return amount_fen(self.volume_cl, self.price_fen)

    def pause(self) -> None:
        """Suspend: the valve closes; flow ramps up again from zero on resume."""
        self.flow_l_min = 0.0
        self.run_time_s = 0.0

    def run(self, dt: float) -> float:
        """Let fuel flow for ``dt`` seconds or until the preset is met; return the unused seconds."""
        target = self.target_cl
        while dt > _EPSILON_S and not self.preset_reached:
            if self.start_delay_s > 0:
                step = min(dt, self.start_delay_s)
                self.start_delay_s -= step
                dt -= step
                continue
            step = min(dt, MAX_STEP_S)
            remaining_l = None if target is None else (target - self.metered_cl) / 100
            flow = self.law.flow_l_min(self.run_time_s + step / 2, remaining_l)
            metered = self.metered_cl + flow * step / 60 * 100
            if target is not None and metered >= target:
                metered = float(target)
            self.delivered_l += (metered - self.metered_cl) / 100 / (1 + self.meter_error_pct / 100)
            self.metered_cl = metered
            self.run_time_s += step
            self.flow_l_min = flow
            dt -= step
        if self.preset_reached:
            self.flow_l_min = 0.0
        return max(0.0, dt)
