"""Station-YAML settings for a gas-detector RS-485 line and the detectors on it.

Alarm setpoint ranges follow the GB/T 50493-2019 ceilings (level 1 at most 25 % LEL, level 2
at most 50 % LEL); the same ranges are enforced when a client writes the setpoint registers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

AL1_RANGE_PCT_LEL = (1.0, 25.0)
AL2_MAX_PCT_LEL = 50.0
HYSTERESIS_RANGE_PCT_LEL = (0.0, 10.0)
LEL_BASIS_RANGE_VOL_PCT = (0.5, 15.0)
METHANE_LEL_VOL_PCT = 5.0  # ISO 10156 / common Chinese convention; IEC 60079-20-1 gives 4.4

BAUD_RATES = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)


class SerialLineConfig(BaseModel):
    """Line settings of the RS-485 bus (the pty advertises them; see the protocol doc)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    baudrate: int = 9600
    bytesize: Literal[7, 8] = 8
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1
    enforce_baudrate: bool = Field(
        default=True,
        description="Ignore frames while the client's port is opened at another baud rate.",
    )

    @field_validator("baudrate")
    @classmethod
    def _known_baudrate(cls, value: int) -> int:
        if value not in BAUD_RATES:
            raise ValueError(f"baudrate must be one of {BAUD_RATES}, got {value}")
        return value

    @property
    def char_bits(self) -> int:
        """Bits on the wire per character: start + data + parity + stop."""
        return 1 + self.bytesize + (0 if self.parity == "N" else 1) + self.stopbits

    @property
    def frame_gap_s(self) -> float:
        """RTU inter-frame silence (3.5 characters; 1.75 ms above 19200 baud)."""
        return 0.00175 if self.baudrate > 19200 else 3.5 * self.char_bits / self.baudrate


class DetectorConfig(BaseModel):
    """One point-type combustible-gas detector (catalytic or IR), one Modbus unit id."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    unit_id: int = Field(ge=1, le=247)
    tag: str = Field(default="", description="Site tag, e.g. GD-CNG-01")
    location: str = ""
    gas_name: str = Field(default="CH4", min_length=1, max_length=8)
    lel_basis_vol_pct: float = Field(default=METHANE_LEL_VOL_PCT, description="vol % that is 100 % LEL")
    al1_pct_lel: float = 25.0
    al2_pct_lel: float = 50.0
    hysteresis_pct_lel: float = 2.0
    latch_al1: bool = False
    latch_al2: bool = True
    warmup_s: float = Field(default=60.0, ge=0.0)
    t90_s: float = Field(default=10.0, gt=0.0, description="sensor response time to 90 %")
    baseline_pct_lel: float = Field(default=0.0, ge=0.0, le=10.0)
    noise_pct_lel: float = Field(default=0.2, ge=0.0, le=5.0, description="reading noise, std dev")

    @field_validator("gas_name")
    @classmethod
    def _ascii_gas_name(cls, value: str) -> str:
        if not value.isascii() or not value.isprintable():
            raise ValueError(f"gas_name must be printable ASCII, got {value!r}")
        return value

    @model_validator(mode="after")
    def _setpoints_in_range(self) -> DetectorConfig:
        low, high = AL1_RANGE_PCT_LEL
        if not low <= self.al1_pct_lel <= high:
            raise ValueError(f"al1_pct_lel must be in [{low}, {high}], got {self.al1_pct_lel}")
        if not self.al1_pct_lel < self.al2_pct_lel <= AL2_MAX_PCT_LEL:
            raise ValueError(
                f"al2_pct_lel must be above al1_pct_lel and at most {AL2_MAX_PCT_LEL}, got {self.al2_pct_lel}"
            )
        low, high = HYSTERESIS_RANGE_PCT_LEL
        if not low <= self.hysteresis_pct_lel <= high:
            raise ValueError(f"hysteresis_pct_lel must be in [{low}, {high}]")
        low, high = LEL_BASIS_RANGE_VOL_PCT
        if not low <= self.lel_basis_vol_pct <= high:
            raise ValueError(f"lel_basis_vol_pct must be in [{low}, {high}]")
        return self


def _default_detectors() -> tuple[DetectorConfig, ...]:
    return (DetectorConfig(unit_id=1, tag="GD-01"), DetectorConfig(unit_id=2, tag="GD-02"))


class GasDetectorLineConfig(BaseModel):
    """One RS-485 line with its detectors (the ``gas_detectors`` part of a station YAML)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "gas-line-1"
    serial: SerialLineConfig = SerialLineConfig()
    link_path: Path | None = Field(
        default=None, description="Optional symlink to the pty slave, like socat's link= option."
    )
    seed: int = 0
    tick_s: float = Field(default=1.0, gt=0.0, le=60.0, description="simulated seconds per physics step")
    detectors: tuple[DetectorConfig, ...] = Field(default_factory=_default_detectors, min_length=1)

    @model_validator(mode="after")
    def _unique_unit_ids(self) -> GasDetectorLineConfig:
        ids = [detector.unit_id for detector in self.detectors]
        duplicates = sorted({unit for unit in ids if ids.count(unit) > 1})
        if duplicates:
            raise ValueError(f"detectors: unit_id {duplicates} used more than once on line {self.name!r}")
        return self
