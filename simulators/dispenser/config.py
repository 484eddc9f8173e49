"""Station-YAML settings of one fuel dispenser: its fuelling points, nozzles, grades and physics.

Defaults describe a two-sided car-lane dispenser (two fuelling points, one 92# nozzle each,
40 L/min). A diesel truck lane is a nozzle with ``max_flow_l_min`` up to 120 (or more).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

#: Metrological limit of a dispenser meter (JJG 443: MPE ±0.30 %).
METER_MPE_PCT = 0.3
#: Largest unit price accepted on the wire (fen per litre); 100 yuan/L is far above any fuel price.
MAX_PRICE_FEN = 10_000


class NozzleConfig(BaseModel):
    """One nozzle (hose) of a fuelling point and the grade it delivers."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    grade_id: int = Field(default=92, ge=1, le=65535, description="configured grade id, e.g. 92, 95")
    price_fen: int = Field(default=789, ge=1, le=MAX_PRICE_FEN, description="unit price, fen per litre")
    max_flow_l_min: float = Field(default=40.0, gt=0, le=250, description="steady flow, litres per minute")
    meter_error_pct: float | None = Field(
        default=None,
        ge=-5.0,
        le=5.0,
        description="indicated minus true volume, % of true; None draws one within ±meter_error_limit_pct",
    )
    initial_volume_total_cl: int = Field(default=0, ge=0, lt=2**63, description="volume totalizer, 0.01 L")
    initial_amount_total_fen: int = Field(default=0, ge=0, lt=2**63, description="amount totalizer, fen")
    refuses_prices: bool = Field(default=False, description="a fault: the price board takes no new price")


class FuellingPointConfig(BaseModel):
    """One fuelling point (one side of the dispenser, one display)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    nozzles: list[NozzleConfig] = Field(default_factory=lambda: [NozzleConfig()], min_length=1, max_length=4)


#: Spelling used in the first design note; same class.
FuellingPointConfig = FuellingPointConfig


class DispenserConfig(BaseModel):
    """A dispenser with 1-4 fuelling points behind one Modbus TCP unit id."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    unit_id: int = Field(default=1, ge=1, le=247)
    fuelling_points: list[FuellingPointConfig] = Field(
        default_factory=lambda: [FuellingPointConfig(), FuellingPointConfig()], min_length=1, max_length=4
    )
    auto_authorise: bool = Field(default=False, description="FCC self-serve mode: a lifted nozzle authorises")
    open_at_start: bool = Field(default=True, description="FPs start Idle (True) or Closed (False)")
    seed: int = 0
    meter_error_limit_pct: float = Field(default=METER_MPE_PCT, ge=0, le=METER_MPE_PCT)
    start_delay_s: float = Field(default=0.5, ge=0, le=10, description="Started -> first flow (pump motor)")
    ramp_up_s: float = Field(default=1.5, ge=0, le=10, description="0 -> full flow")
    slowdown_volume_l: float = Field(default=0.8, ge=0, le=5, description="slow flow this close to a preset")
    slowdown_flow_fraction: float = Field(default=0.15, gt=0, le=1)
    unpaid_limit: int = Field(
        default=2, ge=0, le=16, description="authorise refused while this many are unpaid; 0 = no limit"
    )
    buffer_size: int = Field(default=4, ge=1, le=64, description="completed transactions kept per FP")

    @model_validator(mode="after")
    def _buffer_holds_unpaid(self) -> DispenserConfig:
        if self.unpaid_limit > self.buffer_size:
            raise ValueError(
                f"buffer_size ({self.buffer_size}) must be >= unpaid_limit ({self.unpaid_limit}), "
                "or unpaid transactions would be dropped"
            )
        return self

    @classmethod
    def from_yaml(cls, path: Path) -> DispenserConfig:
        """Load a YAML file whose top level is this mapping (the dispenser part of a station YAML)."""
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return cls.model_validate(data)
