"""An LNG truck dispenser: precool, pumped liquid fill, return-gas metering, billing net mass.

A fill precools the hose and meter for ``precool_s`` (no metered flow), then pumps liquid at
``flow_kg_min``; over the last ``taper_kg`` before the vehicle tank is full the flow falls
linearly, and the fill ends as ``vehicle_full`` (or ``preset_reached``, ``tank_low_level``).
Vapour displaced from the vehicle tank flows back through the return-gas meter:
``return = liquid x rho_vapour(vehicle pressure) / rho_liquid``. The billed mass is liquid
minus return gas; the amount is computed from it.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from enum import IntEnum

from simulators.gas_skid import gas
from simulators.gas_skid.config import LngDispenserConfig
from simulators.gas_skid.errors import CommandRefused, Refusal
from simulators.gas_skid.lng_tank import LngTank

#: Largest preset a fill accepts, kg.
MAX_PRESET_KG = 1000.0
#: Flow below which a tapering fill counts as full, kg/min.
FULL_FLOW_KG_MIN = 1.0


class LngDispenserState(IntEnum):
    IDLE = 0
    PRECOOLING = 1
    FILLING = 2
    COMPLETE = 3
    FAULT = 4


@dataclass
class LngVehicle:
    """A truck's LNG tank: capacity to its fill limit and what it holds."""

    capacity_kg: float
    liquid_kg: float
    pressure_g_mpa: float


class LngDispenser:
    def __init__(self, number: int, cfg: LngDispenserConfig) -> None:
        self.number = number
        self.cfg = cfg
        self.state = LngDispenserState.IDLE
        self.price_fen_per_kg = cfg.price_fen_per_kg
        self.gross_kg = 0.0
        self.return_gas_kg = 0.0
        self.flow_kg_min = 0.0
        self.totalizer_kg = cfg.initial_totalizer_kg
        self.return_gas_totalizer_kg = 0.0
        self.transaction_no = 0
        self.stop_reason = ""
        self.fault_code = 0
        self.preset_kg = 0.0
        self.liquid_t_c = math.nan
        self.density_kg_m3 = 0.0
        self.vehicle: LngVehicle | None = None
        self._precool_elapsed = 0.0

    # --- readings --------------------------------------------------------------------------------

    @property
    def mass_kg(self) -> float:
        """Billed mass this fill: liquid delivered minus return gas."""
        return self.gross_kg - self.return_gas_kg

    @property
    def amount_fen(self) -> int:
        return (round(self.mass_kg * 100) * self.price_fen_per_kg + 50) // 100

    @property
    def busy(self) -> bool:
        return self.state in (LngDispenserState.PRECOOLING, LngDispenserState.FILLING)

    # --- commands --------------------------------------------------------------------------------

    def start_fill(self, preset_kg: float, vehicle: LngVehicle, tank_low_level: bool) -> int:
        if self.state is LngDispenserState.FAULT:
            raise CommandRefused(Refusal.INVALID_STATE, f"LNG dispenser {self.number} in fault {self.fault_code}")
        if self.busy:
            raise CommandRefused(Refusal.INVALID_STATE, f"LNG dispenser {self.number} is already filling")
        if not (0.0 <= preset_kg <= MAX_PRESET_KG) or math.isnan(preset_kg):
            raise CommandRefused(Refusal.OUT_OF_RANGE, f"preset must be 0..{MAX_PRESET_KG} kg, got {preset_kg}")
        if tank_low_level:
            raise CommandRefused(Refusal.RESOURCE_LOW, "LNG tank at low level")
        self.vehicle = vehicle
        self.preset_kg = preset_kg
        self.gross_kg = 0.0
        self.return_gas_kg = 0.0
        self.flow_kg_min = 0.0
        self.stop_reason = ""
        self.transaction_no += 1
        self._precool_elapsed = 0.0
        self.state = LngDispenserState.PRECOOLING
        return self.transaction_no

    def stop(self) -> None:
        if self.busy:
            self._complete("operator_stop")

    def reset(self) -> None:
        if self.busy:
            raise CommandRefused(Refusal.INVALID_STATE, "stop the fill before a reset")
        self.state = LngDispenserState.IDLE
        self.fault_code = 0
        self.vehicle = None

    def fault(self, code: int) -> None:
        if self.busy:
            self._complete("fault")
        self.state = LngDispenserState.FAULT
        self.fault_code = code

    def set_price(self, fen_per_kg: int) -> None:
        if self.busy:
            raise CommandRefused(Refusal.INVALID_STATE, "price cannot change during a fill")
        if not 1 <= fen_per_kg <= 100_000:
            raise CommandRefused(Refusal.OUT_OF_RANGE, f"price must be 1..100000 fen/kg, got {fen_per_kg}")
        self.price_fen_per_kg = fen_per_kg

    def draw_vehicle(self, rng: random.Random, liquid_density: float) -> LngVehicle:
        water_m3 = rng.choice(self.cfg.vehicle_water_l) / 1000.0
        low, high = self.cfg.vehicle_initial_pct
        capacity = water_m3 * self.cfg.vehicle_max_fill_pct / 100.0 * liquid_density
        residual = water_m3 * rng.uniform(low, high) / 100.0 * liquid_density
        return LngVehicle(capacity, min(residual, capacity), self.cfg.vehicle_g_mpa)

    # --- physics ---------------------------------------------------------------------------------

    def step(self, h: float, tank: LngTank, tank_low_level: bool) -> None:
        self.liquid_t_c = tank.liquid_t_c + self.cfg.pump_heating_k
        self.density_kg_m3 = gas.lng_liquid_density(self.liquid_t_c)
        vehicle = self.vehicle
        if vehicle is None or not self.busy:
            return
        if self.state is LngDispenserState.PRECOOLING:
            self._precool_elapsed += h
            if self._precool_elapsed >= self.cfg.precool_s:
                self.state = LngDispenserState.FILLING
            return
        if tank_low_level:
            self._complete("tank_low_level")
            return
        room = vehicle.capacity_kg - vehicle.liquid_kg
        flow = self.cfg.flow_kg_min * min(1.0, room / self.cfg.taper_kg)
        if flow < FULL_FLOW_KG_MIN:
            self._complete("vehicle_full")
            return
        ratio = gas.vapour_density(gas.absolute(vehicle.pressure_g_mpa), self.liquid_t_c) / self.density_kg_m3
        dm = min(flow / 60.0 * h, room)
        if self.preset_kg > 0.0:  # the preset is billed (net) mass
            dm = min(dm, (self.preset_kg - self.mass_kg) / (1.0 - ratio))
            if dm <= 1e-9:
                self._complete("preset_reached")
                return
        tank.withdraw(dm)
        vehicle.liquid_kg += dm
        self.gross_kg += dm
        self.return_gas_kg += dm * ratio
        self.totalizer_kg += dm * (1.0 - ratio)
        self.return_gas_totalizer_kg += dm * ratio
        self.flow_kg_min = dm / h * 60.0

    def _complete(self, reason: str) -> None:
        self.state = LngDispenserState.COMPLETE
        self.stop_reason = reason
        self.flow_kg_min = 0.0
