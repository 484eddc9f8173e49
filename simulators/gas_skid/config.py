"""Station-YAML settings of a CNG/LNG gas skid: compressor, cascade, dispensers, LNG tank.

Defaults describe a mixed CNG/LNG station: a 700 kg/h three-stage compressor (≈ 1050 m³/h at
20 °C), a 1:1.5:2 high/mid/low cascade rated 25 MPa, two car CNG dispensers, a 60 m³ vertical
vacuum-perlite LNG tank at 60 % and 0.4 MPa and two truck LNG dispensers. Pressures are
gauge (``_g_mpa``), money fen, masses kg, temperatures °C.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

#: Largest unit price accepted (fen per kg); 1000 yuan/kg is far above any gas price.
MAX_PRICE_FEN_PER_KG = 100_000
#: Rated (maximum working) pressure of the cascade and vehicle cylinders, MPa gauge.
CASCADE_RATED_G_MPA = 25.0


class CompressorConfig(BaseModel):
    """A CNG compressor behind a priority panel (fills the banks high -> mid -> low)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rate_kg_h: float = Field(default=700.0, gt=0, le=5000, description="delivery into the banks, kg/h")
    suction_g_mpa: float = Field(default=0.4, ge=0.035, le=9.0, description="inlet gas pressure (gauge)")
    stages: int = Field(default=3, ge=1, le=5)
    start_g_mpa: float = Field(default=20.0, ge=15.0, le=24.0, description="start when high bank falls below")
    stop_g_mpa: float = Field(default=25.0, ge=20.0, le=CASCADE_RATED_G_MPA, description="bank full")
    trip_discharge_g_mpa: float = Field(default=27.0, ge=20.0, le=35.0, description="high-pressure switch")
    starting_s: float = Field(default=10.0, ge=0, le=120, description="motor start, unloaded")
    auto_enabled: bool = Field(default=True, description="in auto at power-up (else Start is needed)")
    initial_run_hours: float = Field(default=0.0, ge=0)

    @model_validator(mode="after")
    def _start_below_stop(self) -> CompressorConfig:
        if self.start_g_mpa > self.stop_g_mpa - 1.0:
            raise ValueError(
                f"start_g_mpa ({self.start_g_mpa}) must be at least 1 MPa below stop_g_mpa ({self.stop_g_mpa})"
            )
        return self


class CascadeConfig(BaseModel):
    """Three storage banks; water volume is the geometric (empty) volume of each bank."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    low_water_l: float = Field(default=2000.0, gt=0, le=50_000)
    mid_water_l: float = Field(default=1500.0, gt=0, le=50_000)
    high_water_l: float = Field(default=1000.0, gt=0, le=50_000)
    low_initial_g_mpa: float = Field(default=18.0, ge=0, le=CASCADE_RATED_G_MPA)
    mid_initial_g_mpa: float = Field(default=21.0, ge=0, le=CASCADE_RATED_G_MPA)
    high_initial_g_mpa: float = Field(default=24.0, ge=0, le=CASCADE_RATED_G_MPA)


class CngDispenserConfig(BaseModel):
    """One CNG fuelling point (one hose), sequential bank control low -> mid -> high."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    price_fen_per_kg: int = Field(default=450, ge=1, le=MAX_PRICE_FEN_PER_KG)
    target_g_mpa: float = Field(default=20.0, ge=10.0, le=20.0, description="fill target at reference_c")
    reference_c: float = Field(default=15.0, description="temperature the target refers to")
    max_fill_g_mpa: float = Field(default=CASCADE_RATED_G_MPA, ge=15.0, le=CASCADE_RATED_G_MPA)
    max_flow_kg_min: float = Field(default=30.0, gt=0, le=200)
    flow_coefficient_kg_min_mpa: float = Field(
        default=3.0, gt=0, le=50, description="flow = coefficient x (bank - vehicle pressure), capped at max"
    )
    switch_flow_kg_min: float = Field(default=5.0, gt=0, description="next bank below this flow")
    end_flow_kg_min: float = Field(default=1.5, gt=0, description="on the high bank: fill ends below this")
    min_bank_g_mpa: float = Field(default=12.0, ge=0, le=CASCADE_RATED_G_MPA, description="refuse a fill below")
    vehicle_water_l: tuple[float, ...] = Field(
        default=(60.0, 80.0, 100.0, 120.0), min_length=1, description="cylinder sizes a vehicle is drawn from"
    )
    vehicle_initial_g_mpa: tuple[float, float] = Field(default=(1.0, 6.0), description="range drawn from")
    initial_totalizer_kg: float = Field(default=0.0, ge=0)

    @model_validator(mode="after")
    def _switch_below_max(self) -> CngDispenserConfig:
        if not self.end_flow_kg_min <= self.switch_flow_kg_min < self.max_flow_kg_min:
            raise ValueError("need end_flow_kg_min <= switch_flow_kg_min < max_flow_kg_min")
        if not 0.0 <= self.vehicle_initial_g_mpa[0] <= self.vehicle_initial_g_mpa[1] <= self.max_fill_g_mpa:
            raise ValueError("vehicle_initial_g_mpa must be (low, high) with 0 <= low <= high <= max_fill_g_mpa")
        return self


class LngTankConfig(BaseModel):
    """A vertical vacuum-perlite LNG tank (cylinder; level = liquid volume / cross-section)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    volume_m3: float = Field(default=60.0, gt=1, le=500, description="geometric inner volume")
    inner_diameter_m: float = Field(default=3.0, gt=0.5, le=10)
    initial_level_pct: float = Field(default=60.0, ge=1, le=95)
    initial_g_mpa: float = Field(default=0.4, ge=0.0, le=1.1)
    boil_off_pct_per_day: float = Field(default=0.25, ge=0, le=5, description="BOR, % of liquid mass/day")
    relief_g_mpa: float = Field(default=1.1, ge=0.3, le=1.5, description="relief/BOG vent valve opens")
    relief_blowdown_mpa: float = Field(default=0.05, gt=0, le=0.3, description="recloses this far below")
    relief_capacity_kg_s: float = Field(default=0.2, gt=0, le=5)
    vent_valve_kg_s_per_mpa: float = Field(default=0.05, gt=0, le=5, description="manual vent flow/gauge MPa")
    initial_vacuum_pa: float = Field(default=0.3, ge=0, le=1000)
    vacuum_alarm_pa: float = Field(default=10.0, gt=0)
    vacuum_loss_heat_factor: float = Field(default=50.0, ge=1, le=1000, description="heat leak x at 100 Pa+")
    high_pressure_alarm_g_mpa: float = Field(default=1.0, ge=0.3, le=1.5)
    high_level_alarm_pct: float = Field(default=90.0, ge=50, le=98)
    low_level_alarm_pct: float = Field(default=10.0, ge=2, le=40)
    evaporation_tau_s: float = Field(default=120.0, gt=0, description="vapour follows Psat(liquid) up")
    condensation_tau_s: float = Field(default=1800.0, gt=0, description="vapour follows Psat(liquid) down")


class LngDispenserConfig(BaseModel):
    """One LNG truck dispenser (submerged pump, liquid meter and return-gas meter)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    price_fen_per_kg: int = Field(default=520, ge=1, le=MAX_PRICE_FEN_PER_KG)
    flow_kg_min: float = Field(default=40.0, gt=0, le=500)
    precool_s: float = Field(default=30.0, ge=0, le=600)
    taper_kg: float = Field(default=5.0, gt=0, description="flow falls linearly over the last kg to full")
    vehicle_water_l: tuple[float, ...] = Field(default=(335.0, 450.0, 500.0), min_length=1)
    vehicle_max_fill_pct: float = Field(default=90.0, gt=0, le=95)
    vehicle_initial_pct: tuple[float, float] = Field(default=(5.0, 30.0), description="residual, % of volume")
    vehicle_g_mpa: float = Field(default=0.8, ge=0, le=1.6, description="vehicle tank pressure (return gas)")
    pump_heating_k: float = Field(default=0.3, ge=0, le=5, description="liquid warms this much in the pump")
    initial_totalizer_kg: float = Field(default=0.0, ge=0)

    @model_validator(mode="after")
    def _residual_range(self) -> LngDispenserConfig:
        low, high = self.vehicle_initial_pct
        if not 0.0 <= low <= high < self.vehicle_max_fill_pct:
            raise ValueError("vehicle_initial_pct must be (low, high) with 0 <= low <= high < vehicle_max_fill_pct")
        return self


class GasSkidConfig(BaseModel):
    """The whole gas skid: one compressor, one cascade, n CNG dispensers, one LNG tank, n LNG dispensers."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int = 0
    ambient_c: float = Field(default=15.0, ge=-40, le=50)
    compressor: CompressorConfig = Field(default_factory=CompressorConfig)
    cascade: CascadeConfig = Field(default_factory=CascadeConfig)
    cng_dispensers: tuple[CngDispenserConfig, ...] = Field(
        default_factory=lambda: (CngDispenserConfig(), CngDispenserConfig()), max_length=16
    )
    lng_tank: LngTankConfig = Field(default_factory=LngTankConfig)
    lng_dispensers: tuple[LngDispenserConfig, ...] = Field(
        default_factory=lambda: (LngDispenserConfig(), LngDispenserConfig()), max_length=16
    )
