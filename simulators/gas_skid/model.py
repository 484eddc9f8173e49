"""The gas skid as one pure model: components, their commands, faults, stepped by ``advance(dt)``.

``GasSkidModel`` owns the cascade, compressor, CNG dispensers, LNG tank and LNG dispensers and
the sensor board between them and the PLC. ``advance(dt)`` integrates in sub-steps: 0.25 s
while a fill or the compressor runs, 1 s while an LNG vent is open or about to lift, 60 s when
the skid is idle (only the LNG heat leak acts). Commands raise ``CommandRefused`` where the PLC would say no.
Dispensers are numbered from 1. Randomness (arriving vehicles) comes from ``Random(config.seed)``.
"""

from __future__ import annotations

import random
from typing import TypeVar

from simulators.gas_skid.cng_dispenser import CngDispenser, CngDispenserState, CngVehicle
from simulators.gas_skid.compressor import Bank, Cascade, Compressor, CompressorState, TripCode
from simulators.gas_skid.config import GasSkidConfig
from simulators.gas_skid.errors import CommandRefused, Refusal
from simulators.gas_skid.lng_dispenser import LngDispenser, LngVehicle
from simulators.gas_skid.lng_tank import LngTank
from simulators.gas_skid.sensors import FIXED_SENSORS, SensorBoard, cng_dispenser_sensor

_T = TypeVar("_T")

#: Sub-step while fills, the compressor or vents are active, s.
FINE_STEP_S = 0.25
#: Sub-step while only the LNG tank moves fast (a vent or the relief valve open), s.
TANK_STEP_S = 1.0
#: Sub-step while only slow processes act (LNG heat leak, cooling), s.
COARSE_STEP_S = 60.0


class GasSkidModel:
    def __init__(self, config: GasSkidConfig) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        self.elapsed_s = 0.0
        ambient = config.ambient_c
        self.cascade = Cascade(config.cascade, ambient)
        self.compressor = Compressor(config.compressor, ambient)
        self.cng_dispensers = [CngDispenser(n, c, ambient) for n, c in enumerate(config.cng_dispensers, start=1)]
        self.lng_tank = LngTank(config.lng_tank)
        self.lng_dispensers = [LngDispenser(n, c) for n, c in enumerate(config.lng_dispensers, start=1)]
        sensors = FIXED_SENSORS + tuple(cng_dispenser_sensor(d.number) for d in self.cng_dispensers)
        self.sensors = SensorBoard(sensors)
        for lng in self.lng_dispensers:  # liquid temperature and density at the meters from the start
            lng.step(0.0, self.lng_tank, tank_low_level=False)

    # --- time ------------------------------------------------------------------------------------

    def advance(self, dt: float) -> None:
        """Integrate ``dt`` simulated seconds."""
        if dt < 0:
            raise ValueError(f"cannot go back in time (dt={dt})")
        remaining = dt
        while remaining > 1e-12:
            h = min(remaining, self._step_size())
            self._step(h)
            remaining -= h
        self.elapsed_s += dt

    def _step_size(self) -> float:
        compressor = self.compressor
        if (
            compressor.state in (CompressorState.STARTING, CompressorState.RUNNING)
            or any(d.state is CngDispenserState.FILLING for d in self.cng_dispensers)
            or any(d.busy for d in self.lng_dispensers)
            or (
                compressor.auto_enabled
                and compressor.state is CompressorState.STOPPED
                and self.cascade.readings(self.sensors)[Bank.HIGH] < compressor.start_g_mpa
            )
        ):
            return FINE_STEP_S
        return TANK_STEP_S if self.lng_tank.needs_fine_steps() else COARSE_STEP_S

    def _step(self, h: float) -> None:
        for cng in self.cng_dispensers:
            cng.step(h, self.cascade, self.sensors)
        self.compressor.step(h, self.cascade, self.sensors)
        low_level = self.lng_low_level
        for lng in self.lng_dispensers:
            lng.step(h, self.lng_tank, low_level)
        self.lng_tank.step(h)

    @property
    def lng_low_level(self) -> bool:
        return self.lng_tank.alarms(self.sensors)["low_level"]

    # --- lookup ----------------------------------------------------------------------------------

    def cng(self, number: int) -> CngDispenser:
        return _pick(self.cng_dispensers, number, "CNG dispenser")

    def lng(self, number: int) -> LngDispenser:
        return _pick(self.lng_dispensers, number, "LNG dispenser")

    # --- commands --------------------------------------------------------------------------------

    def start_compressor(self) -> None:
        self.compressor.start(self.cascade.readings(self.sensors))

    def stop_compressor(self) -> None:
        self.compressor.stop()

    def reset_compressor(self) -> None:
        self.compressor.reset()

    def start_cng_fill(self, number: int, preset_kg: float = 0.0, vehicle: CngVehicle | None = None) -> int:
        """Start a CNG fill (``preset_kg`` 0 = to the compensated target); returns the transaction no."""
        dispenser = self.cng(number)
        arriving = vehicle if vehicle is not None else dispenser.draw_vehicle(self.rng)
        return dispenser.start_fill(preset_kg, arriving, self.cascade.readings(self.sensors))

    def start_lng_fill(self, number: int, preset_kg: float = 0.0, vehicle: LngVehicle | None = None) -> int:
        """Start an LNG fill (``preset_kg`` 0 = vehicle full, else billed kg); returns the transaction no."""
        dispenser = self.lng(number)
        arriving = vehicle if vehicle is not None else dispenser.draw_vehicle(self.rng, self.lng_tank.liquid_density)
        return dispenser.start_fill(preset_kg, arriving, self.lng_low_level)

    def open_vent_valve(self) -> None:
        self.lng_tank.vent_valve_open = True

    def close_vent_valve(self) -> None:
        self.lng_tank.vent_valve_open = False

    def set_lng_alarm_setpoint(self, which: str, value: float) -> None:
        """``which``: high_pressure (MPa g, 0.3..relief), high_level (%, 50..98), low_level (%, 2..40)."""
        tank = self.lng_tank
        limits = {
            "high_pressure": (0.3, tank.cfg.relief_g_mpa),
            "high_level": (max(50.0, tank.low_level_alarm_pct + 10.0), 98.0),
            "low_level": (2.0, min(40.0, tank.high_level_alarm_pct - 10.0)),
        }
        low, high = limits[which]
        if not low <= value <= high:
            raise CommandRefused(Refusal.OUT_OF_RANGE, f"{which} alarm setpoint must be {low:g}..{high:g}")
        setattr(tank, f"{which}_alarm_{'g_mpa' if which == 'high_pressure' else 'pct'}", value)

    # --- faults ----------------------------------------------------------------------------------

    def trip_compressor(self, code: TripCode | int = TripCode.MOTOR_OVERLOAD) -> None:
        self.compressor.trip(code)

    def fault_cng_dispenser(self, number: int, code: int = 1) -> None:
        self.cng(number).fault(code)

    def fault_lng_dispenser(self, number: int, code: int = 1) -> None:
        self.lng(number).fault(code)

    def lose_lng_vacuum(self) -> None:
        """The tank's insulation vacuum starts to fail: the annulus pressure and heat leak rise."""
        self.lng_tank.vacuum_lost = True

    def restore_lng_vacuum(self, vacuum_pa: float | None = None) -> None:
        self.lng_tank.vacuum_lost = False
        self.lng_tank.vacuum_pa = vacuum_pa if vacuum_pa is not None else self.config.lng_tank.initial_vacuum_pa


def _pick(items: list[_T], number: int, what: str) -> _T:
    if not 1 <= number <= len(items):
        raise CommandRefused(Refusal.OUT_OF_RANGE, f"no {what} {number} (have 1..{len(items)})")
    return items[number - 1]
