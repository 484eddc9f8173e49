"""The tank gauge part of a station YAML: the console, its tanks and their alarm limits.

Everything is metric: litres, millimetres, °C, kg/m³ (density at 20 °C, as Chinese delivery
notes give it). Percentages are of the tank's full (100 %) volume. A wrong value fails at load
time with the key that is wrong.
"""

from __future__ import annotations

import math
import re

from pydantic import BaseModel, ConfigDict, Field, model_validator

_SECURITY_CODE = re.compile(r"^[\x21-\x7e]{6}$")


class TankAlarmLimits(BaseModel):
    """Alarm thresholds of one tank (what a technician sets up in the console)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    high_product_pct: float = Field(default=95.0, gt=0, le=100, description="HIGH PRODUCT alarm (liquid volume)")
    overfill_pct: float = Field(default=90.0, gt=0, le=100, description="OVERFILL alarm (liquid volume)")
    delivery_needed_pct: float = Field(default=20.0, ge=0, lt=100, description="DELIVERY NEEDED warning")
    low_product_pct: float = Field(default=10.0, ge=0, lt=100, description="LOW PRODUCT alarm (product volume)")
    high_water_mm: float = Field(default=50.0, gt=0, description="HIGH WATER alarm")
    high_water_warning_mm: float = Field(default=30.0, gt=0, description="HIGH WATER warning")
    leak_rate_l_h: float = Field(default=0.76, gt=0, description="leak test fails at |rate| ≥ this (0.2 gal/h)")

    @model_validator(mode="after")
    def _ordered(self) -> TankAlarmLimits:
        if not self.low_product_pct <= self.delivery_needed_pct < self.overfill_pct <= self.high_product_pct:
            raise ValueError(
                "expected low_product_pct ≤ delivery_needed_pct < overfill_pct ≤ high_product_pct"
            )
        if self.high_water_warning_mm > self.high_water_mm:
            raise ValueError("expected high_water_warning_mm ≤ high_water_mm")
        return self


class TankConfig(BaseModel):
    """One underground horizontal cylindrical tank (flat ends) with its probe."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    number: int = Field(ge=1, le=99, description="tank number on the console (TT on the wire)")
    product_code: str = Field(default="1", min_length=1, max_length=1, pattern=r"^[\x21-\x7e]$")
    label: str = Field(default="92#汽油", min_length=1, max_length=20, description="product label, shown on screen")
    grade_id: int = 92
    capacity_l: float = Field(default=30000.0, gt=0, description="full (100 %) volume")
    diameter_mm: float = Field(default=2600.0, gt=0)
    length_mm: float | None = Field(
        default=None, gt=0, description="inside length; derived from capacity and diameter when omitted"
    )
    initial_volume_l: float = Field(default=15000.0, ge=0, description="gross product volume at start")
    water_mm: float = Field(default=0.0, ge=0, description="water height at start")
    temperature_c: float = Field(default=18.0, ge=-40, le=60, description="product temperature at start")
    ground_temperature_c: float = Field(default=16.0, ge=-40, le=60, description="what the product drifts to")
    thermal_time_constant_h: float = Field(default=24.0, gt=0, description="time constant of that drift")
    density_20: float = Field(default=737.0, ge=600, le=1100, description="standard density ρ20, kg/m³")
    ullage_pct: float = Field(default=95.0, gt=0, le=100, description="ullage is measured to this % of capacity")
    height_noise_mm: float = Field(default=0.2, ge=0, description="σ of the product and water float heights")
    temperature_noise_c: float = Field(default=0.02, ge=0, description="σ of the temperature reading")
    delivery_settle_s: float = Field(default=900.0, ge=0, description="quiet time after a drop before its record")
    alarms: TankAlarmLimits = TankAlarmLimits()

    @property
    def resolved_length_mm(self) -> float:
        """The tank's inside length: given, or the length that makes ``capacity_l`` with this diameter."""
        if self.length_mm is not None:
            return self.length_mm
        radius_dm = self.diameter_mm / 200.0
        return self.capacity_l / (math.pi * radius_dm**2) * 100.0

    @model_validator(mode="after")
    def _consistent(self) -> TankConfig:
        radius_dm = self.diameter_mm / 200.0
        geometric_l = math.pi * radius_dm**2 * self.resolved_length_mm / 100.0
        if abs(geometric_l - self.capacity_l) > 0.01 * self.capacity_l:
            raise ValueError(
                f"tank {self.number}: length_mm {self.length_mm} and diameter_mm {self.diameter_mm} give "
                f"{geometric_l:.0f} L, expected capacity_l {self.capacity_l:.0f} L within 1 %"
            )
        if self.water_mm >= self.diameter_mm:
            raise ValueError(f"tank {self.number}: water_mm must be below diameter_mm")
        if self.initial_volume_l > self.capacity_l:
            raise ValueError(f"tank {self.number}: initial_volume_l exceeds capacity_l")
        return self


def _default_tanks() -> tuple[TankConfig, ...]:
    return (
        TankConfig(number=1, product_code="1", label="92#汽油", grade_id=92, initial_volume_l=18000.0),
        TankConfig(number=2, product_code="2", label="95#汽油", grade_id=95, initial_volume_l=12000.0,
                   density_20=745.0),
        TankConfig(number=3, product_code="3", label="0#柴油", grade_id=0, capacity_l=50000.0,
                   diameter_mm=2800.0, initial_volume_l=30000.0, density_20=835.0, water_mm=8.0),
    )


class TankGaugeConfig(BaseModel):
    """A TLS-350-like console: its tanks, its ports and its wire options."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tanks: tuple[TankConfig, ...] = Field(default_factory=_default_tanks, min_length=1)
    tcp_port: int = Field(default=10001, ge=0, le=65535, description="TCP listener (TLS-on-TCP habit)")
    serial: bool = Field(default=True, description="also serve a serial line through a pseudo-terminal")
    security_code: str | None = Field(default=None, description="6 printable chars required after SOH, or none")
    seed: int = 0
    model_step_s: float = Field(default=1.0, gt=0, le=60, description="fixed physics step, simulated seconds")
    utc_offset_h: float = Field(default=8.0, ge=-12, le=14, description="console local time = UTC + this")
    station_header: tuple[str, ...] = Field(default=("FORECOURT SIM",), max_length=4)
    software_revision: str = Field(default="346330-100-B", pattern=r"^[\x20-\x7e]{1,20}$")

    @model_validator(mode="after")
    def _checked(self) -> TankGaugeConfig:
        numbers = [tank.number for tank in self.tanks]
        if len(set(numbers)) != len(numbers):
            raise ValueError(f"tank numbers must be unique, got {numbers}")
        if self.security_code is not None and not _SECURITY_CODE.match(self.security_code):
            raise ValueError("security_code must be exactly 6 printable ASCII characters")
        if any(len(line) > 20 for line in self.station_header):
            raise ValueError("station_header lines are at most 20 characters")
        return self
