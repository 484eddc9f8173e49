"""A CNG dispenser filling a vehicle cylinder from the cascade, bank by bank.

Flow is ``coefficient x (bank pressure - vehicle pressure)`` kg/min, capped at ``max_flow``.
When it falls below ``switch_flow`` the sequencer opens the next bank (low -> mid -> high); on
the high bank it goes on down to ``end_flow`` and then ends the fill as ``banks_exhausted``.
The fill ends as ``target_pressure`` when the vehicle transmitter reads the
temperature-compensated target: the pressure at which gas at
the measured temperature has the density of gas at ``target_g_mpa`` and ``reference_c`` (20 MPa
at 15 °C), capped at ``max_fill_g_mpa``. The cylinder gas warms while filling (lumped energy
balance) and cools back to ambient afterwards, settling near the reference pressure.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from enum import IntEnum

from simulators.gas_skid import gas
from simulators.gas_skid.compressor import Bank, Cascade
from simulators.gas_skid.config import CngDispenserConfig
from simulators.gas_skid.errors import CommandRefused, Refusal
from simulators.gas_skid.sensors import SensorBoard, cng_dispenser_sensor

#: Effective heating factor of gas entering a cylinder (γ of methane ≈ 1.3, reduced by
#: Joule-Thomson cooling at the valve and the cylinder wall's heat capacity).
FILL_HEATING_GAMMA = 1.15
#: Cylinder gas -> ambient heat exchange time constant, s.
CYLINDER_TAU_S = 300.0
#: Largest preset a fill accepts, kg.
MAX_PRESET_KG = 500.0
#: Pressure tolerance for "target reached", MPa.
TARGET_TOLERANCE_MPA = 1e-4


class CngDispenserState(IntEnum):
    IDLE = 0
    FILLING = 1
    COMPLETE = 2
    FAULT = 3


@dataclass
class CngVehicle:
    """The vehicle's cylinder set: water volume and the gas in it."""

    water_l: float
    mass_kg: float
    gas_t_c: float

    @classmethod
    def at_pressure(cls, water_l: float, p_g_mpa: float, t_c: float) -> CngVehicle:
        return cls(water_l, gas.cng_density(p_g_mpa, t_c) * water_l / 1000.0, t_c)

    @property
    def pressure_g(self) -> float:
        return max(gas.cng_pressure_g(self.mass_kg / (self.water_l / 1000.0), self.gas_t_c), 0.0)


class CngDispenser:
    """One CNG hose: fill sequencing, metering, price and totalizer."""

    def __init__(self, number: int, cfg: CngDispenserConfig, ambient_c: float) -> None:
        self.number = number
        self.cfg = cfg
        self.ambient_c = ambient_c
        self.sensor = cng_dispenser_sensor(number)
        self.state = CngDispenserState.IDLE
        self.price_fen_per_kg = cfg.price_fen_per_kg
        self.target_g_mpa = cfg.target_g_mpa
        self.mass_kg = 0.0
        self.flow_kg_min = 0.0
        self.totalizer_kg = cfg.initial_totalizer_kg
        self.transaction_no = 0
        self.active_bank = Bank.NONE
        self.bank_switches = 0
        self.stop_reason = ""
        self.fault_code = 0
        self.preset_kg = 0.0
        self.vehicle: CngVehicle | None = None

    # --- readings --------------------------------------------------------------------------------

    @property
    def amount_fen(self) -> int:
        """Amount for the displayed mass (0.01 kg), rounded half up to the fen."""
        return (round(self.mass_kg * 100) * self.price_fen_per_kg + 50) // 100

    def vehicle_pressure_g(self, sensors: SensorBoard) -> float:
        actual = self.vehicle.pressure_g if self.vehicle is not None else 0.0
        return sensors.read(self.sensor, actual)

    @property
    def gas_t_c(self) -> float:
        return self.vehicle.gas_t_c if self.vehicle is not None else self.ambient_c

    def compensated_target_g(self, gas_t_c: float) -> float:
        """Fill-end pressure for gas at ``gas_t_c`` (see the module docstring)."""
        target = gas.compensated_target_g(self.target_g_mpa, self.cfg.reference_c, gas_t_c)
        return min(target, self.cfg.max_fill_g_mpa)

    # --- commands --------------------------------------------------------------------------------

    def start_fill(self, preset_kg: float, vehicle: CngVehicle, bank_readings: dict[Bank, float]) -> int:
        """Connect ``vehicle`` and start; ``preset_kg`` 0 = fill to the target pressure. Returns the txn no."""
        if self.state is CngDispenserState.FAULT:
            raise CommandRefused(Refusal.INVALID_STATE, f"CNG dispenser {self.number} in fault {self.fault_code}")
        if self.state is CngDispenserState.FILLING:
            raise CommandRefused(Refusal.INVALID_STATE, f"CNG dispenser {self.number} is already filling")
        if not (0.0 <= preset_kg <= MAX_PRESET_KG) or math.isnan(preset_kg):
            raise CommandRefused(Refusal.OUT_OF_RANGE, f"preset must be 0..{MAX_PRESET_KG} kg, got {preset_kg}")
        best = max(bank_readings.values())
        if best < self.cfg.min_bank_g_mpa:
            raise CommandRefused(
                Refusal.RESOURCE_LOW, f"bank pressure {best:.2f} MPa below minimum {self.cfg.min_bank_g_mpa} MPa"
            )
        self.vehicle = vehicle
        self.preset_kg = preset_kg
        self.mass_kg = 0.0
        self.flow_kg_min = 0.0
        self.active_bank = Bank.LOW
        self.bank_switches = 0
        self.stop_reason = ""
        self.transaction_no += 1
        self.state = CngDispenserState.FILLING
        return self.transaction_no

    def stop(self) -> None:
        """Operator stop: end a fill in progress (idempotent otherwise)."""
        if self.state is CngDispenserState.FILLING:
            self._complete("operator_stop")

    def reset(self) -> None:
        """Clear a fault or a completed fill; the hose is hung up and the vehicle leaves."""
        if self.state is CngDispenserState.FILLING:
            raise CommandRefused(Refusal.INVALID_STATE, "stop the fill before a reset")
        self.state = CngDispenserState.IDLE
        self.fault_code = 0
        self.vehicle = None
        self.active_bank = Bank.NONE

    def fault(self, code: int) -> None:
        if self.state is CngDispenserState.FILLING:
            self._complete("fault")
        self.state = CngDispenserState.FAULT
        self.fault_code = code

    def set_price(self, fen_per_kg: int) -> None:
        if self.state is CngDispenserState.FILLING:
            raise CommandRefused(Refusal.INVALID_STATE, "price cannot change during a fill")
        if not 1 <= fen_per_kg <= 100_000:
            raise CommandRefused(Refusal.OUT_OF_RANGE, f"price must be 1..100000 fen/kg, got {fen_per_kg}")
        self.price_fen_per_kg = fen_per_kg

    def set_target(self, g_mpa: float) -> None:
        if self.state is CngDispenserState.FILLING:
            raise CommandRefused(Refusal.INVALID_STATE, "target cannot change during a fill")
        if not 10.0 <= g_mpa <= 20.0:
            raise CommandRefused(Refusal.OUT_OF_RANGE, f"target must be 10..20 MPa, got {g_mpa}")
        self.target_g_mpa = g_mpa

    def draw_vehicle(self, rng: random.Random) -> CngVehicle:
        """A random arriving vehicle from the configured cylinder sizes and residual pressures."""
        low, high = self.cfg.vehicle_initial_g_mpa
        return CngVehicle.at_pressure(rng.choice(self.cfg.vehicle_water_l), rng.uniform(low, high), self.ambient_c)

    # --- physics ---------------------------------------------------------------------------------

    def step(self, h: float, cascade: Cascade, sensors: SensorBoard) -> None:
        vehicle = self.vehicle
        if vehicle is None:
            return
        if self.state is not CngDispenserState.FILLING:
            self._exchange_heat(vehicle, 0.0, h)
            return
        if self.vehicle_pressure_g(sensors) >= self.compensated_target_g(vehicle.gas_t_c) - TARGET_TOLERANCE_MPA:
            self._complete("target_pressure")
            return
        if self.preset_kg > 0.0 and self.mass_kg >= self.preset_kg - 1e-9:
            self._complete("preset_reached")
            return
        flow = self._bank_flow(vehicle, cascade)
        while flow < self.cfg.switch_flow_kg_min and self.active_bank < Bank.HIGH:
            self.active_bank = Bank(self.active_bank + 1)
            self.bank_switches += 1
            flow = self._bank_flow(vehicle, cascade)
        if flow < self.cfg.end_flow_kg_min:
            self._complete("banks_exhausted")
            return
        dm = flow / 60.0 * h
        if not sensors.is_stuck(self.sensor):  # the meter valve closes at the target, not a step later
            full_density = min(
                gas.cng_density(self.target_g_mpa, self.cfg.reference_c),
                gas.cng_density(self.cfg.max_fill_g_mpa, vehicle.gas_t_c),
            )
            dm = min(dm, max(full_density * vehicle.water_l / 1000.0 - vehicle.mass_kg, 0.0))
        if self.preset_kg > 0.0:
            dm = min(dm, self.preset_kg - self.mass_kg)
        self._exchange_heat(vehicle, dm, h)
        vehicle.mass_kg += dm
        cascade[self.active_bank].mass_kg -= dm
        self.mass_kg += dm
        self.totalizer_kg += dm
        self.flow_kg_min = dm / h * 60.0

    def _bank_flow(self, vehicle: CngVehicle, cascade: Cascade) -> float:
        dp = cascade.pressure_g(self.active_bank) - vehicle.pressure_g
        return min(max(self.cfg.flow_coefficient_kg_min_mpa * dp, 0.0), self.cfg.max_flow_kg_min)

    def _exchange_heat(self, vehicle: CngVehicle, dm: float, h: float) -> None:
        """dT = dm/m (γ T_in - T) - (T - T_amb) h/τ, T in kelvin; T_in = bank (ambient) temperature."""
        t_k = vehicle.gas_t_c + gas.T0_K
        t_amb_k = self.ambient_c + gas.T0_K
        heating = dm / (vehicle.mass_kg + dm) * (FILL_HEATING_GAMMA * t_amb_k - t_k) if dm > 0 else 0.0
        cooled = t_amb_k + (t_k - t_amb_k) * math.exp(-h / CYLINDER_TAU_S)
        vehicle.gas_t_c = cooled + heating - gas.T0_K

    def _complete(self, reason: str) -> None:
        self.state = CngDispenserState.COMPLETE
        self.stop_reason = reason
        self.flow_kg_min = 0.0
