"""CNG side of the skid upstream of the dispensers: the three-bank cascade and its compressor.

The banks are isothermal at ambient temperature; each bank's state is its gas mass, its
pressure follows from the real-gas fit in ``gas.py``. The compressor runs on the priority
panel's readings: it starts when the high bank reads below ``start_g_mpa``, fills the first
bank (high, then mid, then low) that reads below ``stop_g_mpa`` at a constant mass rate, and
stops when all three read full. A high-pressure switch on the true discharge pressure trips it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import IntEnum

from simulators.gas_skid import gas
from simulators.gas_skid.config import CascadeConfig, CompressorConfig
from simulators.gas_skid.errors import CommandRefused, Refusal
from simulators.gas_skid.sensors import SensorBoard


class Bank(IntEnum):
    NONE = 0
    LOW = 1
    MID = 2
    HIGH = 3


#: Fill priority of the panel (compressor side); vehicles draw in the reverse order.
PANEL_PRIORITY = (Bank.HIGH, Bank.MID, Bank.LOW)


class CompressorState(IntEnum):
    STOPPED = 0
    STARTING = 1
    RUNNING = 2
    FAULT = 3


class TripCode(IntEnum):
    """Compressor fault codes (``FaultCode``); 0 = no fault."""

    NONE = 0
    HIGH_DISCHARGE_TEMPERATURE = 1
    LOW_SUCTION_PRESSURE = 2
    MOTOR_OVERLOAD = 3
    HIGH_DISCHARGE_PRESSURE = 4
    LOW_OIL_PRESSURE = 5


#: Line loss between the last stage and the bank it fills, MPa.
DISCHARGE_LINE_LOSS_MPA = 0.3
#: Discharge temperature above ambient after the aftercooler while running, K.
DISCHARGE_RISE_K = 25.0
DISCHARGE_TAU_RUNNING_S = 120.0
DISCHARGE_TAU_STOPPED_S = 600.0
#: A manual Start does nothing unless some bank reads at least this far below the stop pressure.
RESTART_MARGIN_MPA = 0.5


@dataclass
class StorageBank:
    bank: Bank
    water_l: float
    mass_kg: float

    def pressure_g(self, t_c: float) -> float:
        return gas.cng_pressure_g(self.mass_kg / (self.water_l / 1000.0), t_c)


class Cascade:
    """Low, mid and high banks, indexed by ``Bank``."""

    def __init__(self, cfg: CascadeConfig, ambient_c: float) -> None:
        self.ambient_c = ambient_c
        self.banks: dict[Bank, StorageBank] = {}
        for bank, water_l, p_g in (
            (Bank.LOW, cfg.low_water_l, cfg.low_initial_g_mpa),
            (Bank.MID, cfg.mid_water_l, cfg.mid_initial_g_mpa),
            (Bank.HIGH, cfg.high_water_l, cfg.high_initial_g_mpa),
        ):
            mass = gas.cng_density(p_g, ambient_c) * water_l / 1000.0
            self.banks[bank] = StorageBank(bank, water_l, mass)

    def __getitem__(self, bank: Bank) -> StorageBank:
        return self.banks[bank]

    def pressure_g(self, bank: Bank) -> float:
        return self.banks[bank].pressure_g(self.ambient_c)

    def readings(self, sensors: SensorBoard) -> dict[Bank, float]:
        """Bank pressures as the priority panel's transmitters read them."""
        return {
            bank: sensors.read(f"cascade.{bank.name.lower()}", self.pressure_g(bank)) for bank in self.banks
        }

    @property
    def total_mass_kg(self) -> float:
        return sum(b.mass_kg for b in self.banks.values())


class Compressor:
    """A multi-stage compressor with a start/stop/fault state machine and the priority panel."""

    def __init__(self, cfg: CompressorConfig, ambient_c: float) -> None:
        self.cfg = cfg
        self.ambient_c = ambient_c
        self.state = CompressorState.STOPPED
        self.auto_enabled = cfg.auto_enabled
        self.fault_code = TripCode.NONE
        self.run_hours = cfg.initial_run_hours
        self.start_g_mpa = cfg.start_g_mpa
        self.stop_g_mpa = cfg.stop_g_mpa
        self.suction_g_mpa = cfg.suction_g_mpa
        self.filling_bank = Bank.NONE
        self.flow_kg_min = 0.0
        self.delivered_kg = 0.0
        self.discharge_t_c = ambient_c
        self.stage_g_mpa: list[float] = [cfg.suction_g_mpa] * cfg.stages
        self.discharge_g_mpa = cfg.suction_g_mpa
        self._starting_elapsed = 0.0

    # --- commands --------------------------------------------------------------------------------

    def start(self, readings: dict[Bank, float]) -> None:
        """Operator Start: put the compressor in auto and run now if a bank is not full."""
        if self.state is CompressorState.FAULT:
            raise CommandRefused(Refusal.INVALID_STATE, f"compressor tripped (fault code {self.fault_code})")
        self.auto_enabled = True
        if self.state is CompressorState.STOPPED and any(
            p < self.stop_g_mpa - RESTART_MARGIN_MPA for p in readings.values()
        ):
            self._begin_start()

    def stop(self) -> None:
        """Operator Stop: leave auto and stop (a tripped compressor stays in fault)."""
        self.auto_enabled = False
        if self.state is not CompressorState.FAULT:
            self._set_stopped()

    def reset(self) -> None:
        """Acknowledge a trip: back to stopped; auto restarts it if the banks need gas."""
        if self.state is not CompressorState.FAULT:
            raise CommandRefused(Refusal.INVALID_STATE, "compressor is not in fault")
        self.fault_code = TripCode.NONE
        self._set_stopped()

    def trip(self, code: TripCode | int) -> None:
        self.fault_code = TripCode(code)
        if self.fault_code is TripCode.NONE:
            raise ValueError("a trip needs a non-zero fault code")
        self.state = CompressorState.FAULT
        self._unload()

    def set_start_pressure(self, value: float) -> None:
        if not 15.0 <= value <= 24.0 or value > self.stop_g_mpa - 1.0:
            raise CommandRefused(
                Refusal.OUT_OF_RANGE, f"start pressure must be 15..24 MPa and 1 MPa below stop ({self.stop_g_mpa})"
            )
        self.start_g_mpa = value

    def set_stop_pressure(self, value: float) -> None:
        if not 20.0 <= value <= 25.0 or value < self.start_g_mpa + 1.0:
            raise CommandRefused(
                Refusal.OUT_OF_RANGE, f"stop pressure must be 20..25 MPa and 1 MPa above start ({self.start_g_mpa})"
            )
        self.stop_g_mpa = value

    # --- physics ---------------------------------------------------------------------------------

    def step(self, h: float, cascade: Cascade, sensors: SensorBoard) -> None:
        readings = cascade.readings(sensors)
        if self.state is CompressorState.STOPPED and self.auto_enabled and readings[Bank.HIGH] < self.start_g_mpa:
            self._begin_start()
        if self.state is CompressorState.STARTING:
            self._starting_elapsed += h
            self.run_hours += h / 3600.0
            if self._starting_elapsed >= self.cfg.starting_s:
                self.state = CompressorState.RUNNING
        if self.state is CompressorState.RUNNING:
            self._run(h, cascade, readings)
        self._relax_temperature(h)

    def _run(self, h: float, cascade: Cascade, readings: dict[Bank, float]) -> None:
        target = next((b for b in PANEL_PRIORITY if readings[b] < self.stop_g_mpa), Bank.NONE)
        if target is Bank.NONE:
            self._set_stopped()
            return
        dm = self.cfg.rate_kg_h / 3600.0 * h
        cascade[target].mass_kg += dm
        self.delivered_kg += dm
        self.run_hours += h / 3600.0
        self.filling_bank = target
        self.flow_kg_min = self.cfg.rate_kg_h / 60.0
        self.discharge_g_mpa = cascade.pressure_g(target) + DISCHARGE_LINE_LOSS_MPA
        p_suc = gas.absolute(self.suction_g_mpa)
        ratio = (gas.absolute(self.discharge_g_mpa) / p_suc) ** (1.0 / self.cfg.stages)
        self.stage_g_mpa = [gas.gauge(p_suc * ratio**k) for k in range(1, self.cfg.stages + 1)]
        if self.discharge_g_mpa > self.cfg.trip_discharge_g_mpa:
            self.trip(TripCode.HIGH_DISCHARGE_PRESSURE)

    def _relax_temperature(self, h: float) -> None:
        running = self.state is CompressorState.RUNNING
        target = self.ambient_c + (DISCHARGE_RISE_K if running else 0.0)
        tau = DISCHARGE_TAU_RUNNING_S if running else DISCHARGE_TAU_STOPPED_S
        self.discharge_t_c = target + (self.discharge_t_c - target) * math.exp(-h / tau)

    def _begin_start(self) -> None:
        self.state = CompressorState.STARTING
        self._starting_elapsed = 0.0

    def _set_stopped(self) -> None:
        self.state = CompressorState.STOPPED
        self._unload()

    def _unload(self) -> None:
        self.filling_bank = Bank.NONE
        self.flow_kg_min = 0.0
        self.stage_g_mpa = [self.suction_g_mpa] * self.cfg.stages
        self.discharge_g_mpa = self.suction_g_mpa
