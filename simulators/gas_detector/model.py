"""Physics of one combustible-gas detector: gas at the sensor, sensor lag, alarms, faults.

Pure: stepped with ``advance(dt)`` in simulated seconds, randomness from the ``random.Random``
passed in. The gas is tracked in vol % so that changing the LEL basis (5.0 vs 4.4 vol %
methane) changes the reading the way it does on a real detector.

- Baseline: ``baseline_pct_lel`` plus Gaussian noise (``noise_pct_lel``) on every step,
  clamped at 0 (detectors suppress negative zero drift).
- Leak events (``start_leak``): a trapezoid in vol % (rise, hold, fall); overlapping leaks add.
- Sensor lag: first order with the configured T90 (tau = T90 / ln 10).
- Alarms: level n switches on when the reading reaches ALn and off when it falls to
  ALn - hysteresis; a latched level stays on until ``reset_alarms`` once the gas has cleared.
- Warm-up after power-on: no reading, alarms inhibited.
- Faults: sensor fault or sensor out (no reading, fault code), stuck sensor (the reading
  freezes while the gas keeps changing; the detector itself does not notice).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from enum import IntEnum, IntFlag

from simulators.gas_detector.config import (
    AL1_RANGE_PCT_LEL,
    AL2_MAX_PCT_LEL,
    HYSTERESIS_RANGE_PCT_LEL,
    LEL_BASIS_RANGE_VOL_PCT,
    DetectorConfig,
)

MAX_SUBSTEP_S = 0.5
FULL_SCALE_PCT_LEL = 100.0


class DetectorStatus(IntFlag):
    """Status word bits (register 1)."""

    WARMUP = 0x0001
    AL1 = 0x0002
    AL2 = 0x0004
    FAULT = 0x0008
    SENSOR_OUT = 0x0010
    OVER_RANGE = 0x0020
    LATCHED = 0x0040


class FaultCode(IntEnum):
    """Fault code (register 9)."""

    NONE = 0
    SENSOR_FAULT = 1
    SENSOR_OUT = 2


class SettingRejected(ValueError):
    """A setting outside its documented range (answered with Modbus exception 03)."""


@dataclass(frozen=True)
class DetectorSettings:
    """The detector's non-volatile settings, writable over Modbus."""

    al1_pct_lel: float
    al2_pct_lel: float
    hysteresis_pct_lel: float
    latch_al1: bool
    latch_al2: bool
    lel_basis_vol_pct: float

    @classmethod
    def from_config(cls, config: DetectorConfig) -> DetectorSettings:
        return cls(
            al1_pct_lel=config.al1_pct_lel,
            al2_pct_lel=config.al2_pct_lel,
            hysteresis_pct_lel=config.hysteresis_pct_lel,
            latch_al1=config.latch_al1,
            latch_al2=config.latch_al2,
            lel_basis_vol_pct=config.lel_basis_vol_pct,
        )

    def check(self) -> None:
        """Raise ``SettingRejected`` unless every value is in its documented range."""
        low, high = AL1_RANGE_PCT_LEL
        if not low <= self.al1_pct_lel <= high:
            raise SettingRejected(f"AL1 {self.al1_pct_lel} % LEL outside [{low}, {high}]")
        if not self.al1_pct_lel < self.al2_pct_lel <= AL2_MAX_PCT_LEL:
            raise SettingRejected(f"AL2 {self.al2_pct_lel} % LEL not in (AL1, {AL2_MAX_PCT_LEL}]")
        low, high = HYSTERESIS_RANGE_PCT_LEL
        if not low <= self.hysteresis_pct_lel <= high:
            raise SettingRejected(f"hysteresis {self.hysteresis_pct_lel} % LEL outside [{low}, {high}]")
        low, high = LEL_BASIS_RANGE_VOL_PCT
        if not low <= self.lel_basis_vol_pct <= high:
            raise SettingRejected(f"LEL basis {self.lel_basis_vol_pct} vol % outside [{low}, {high}]")


@dataclass(frozen=True)
class LeakEvent:
    """Gas at the sensor from one leak: linear rise, hold at peak, linear fall (vol %)."""

    start_s: float
    peak_vol_pct: float
    rise_s: float
    hold_s: float
    fall_s: float

    @property
    def end_s(self) -> float:
        return self.start_s + self.rise_s + self.hold_s + self.fall_s

    def vol_pct_at(self, t: float) -> float:
        x = t - self.start_s
        if x < 0.0:
            return 0.0
        if x < self.rise_s:
            return self.peak_vol_pct * x / self.rise_s
        x -= self.rise_s
        if x < self.hold_s:
            return self.peak_vol_pct
        x -= self.hold_s
        if x < self.fall_s:
            return self.peak_vol_pct * (1.0 - x / self.fall_s)
        return 0.0


def _next_alarm(on: bool, reading: float, setpoint: float, hysteresis: float, latched: bool) -> bool:
    if reading >= setpoint:
        return True
    if on and latched:
        return True
    return on and reading > setpoint - hysteresis


class DetectorModel:
    """One detector; all times are simulated seconds since the model was created."""

    def __init__(self, config: DetectorConfig, rng: random.Random) -> None:
        self.config = config
        self.settings = DetectorSettings.from_config(config)
        self._rng = rng
        self._t = 0.0
        self._powered_at = 0.0
        self._leaks: list[LeakEvent] = []
        self._baseline_vol_pct = config.baseline_pct_lel / 100.0 * config.lel_basis_vol_pct
        self._sensed_vol_pct = self._baseline_vol_pct
        self._noise_pct_lel = 0.0
        self._stuck_pct_lel: float | None = None
        self._sensor_fault = False
        self._probe_out = False
        self._al1 = False
        self._al2 = False
        self.last_command = 0  # echo of the command register (see registers.py)

    # ---- stepping -------------------------------------------------------------------------

    def advance(self, dt: float) -> None:
        """Move the detector ``dt`` simulated seconds forward (in sub-steps of at most 0.5 s)."""
        if dt < 0.0:
            raise ValueError(f"dt must be >= 0, got {dt}")
        while dt > 1e-9:
            step = min(dt, MAX_SUBSTEP_S)
            self._step(step)
            dt -= step

    def _step(self, dt: float) -> None:
        self._t += dt
        ambient = self.ambient_vol_pct
        self._leaks = [leak for leak in self._leaks if leak.end_s > self._t]
        tau = self.config.t90_s / math.log(10.0)
        self._sensed_vol_pct += (ambient - self._sensed_vol_pct) * (1.0 - math.exp(-dt / tau))
        self._noise_pct_lel = self._rng.gauss(0.0, self.config.noise_pct_lel)
        self._evaluate_alarms()

    # ---- what the detector measures -------------------------------------------------------

    @property
    def time_s(self) -> float:
        return self._t

    @property
    def ambient_vol_pct(self) -> float:
        """True gas concentration at the sensor head (vol %), before sensor lag."""
        return self._baseline_vol_pct + sum(leak.vol_pct_at(self._t) for leak in self._leaks)

    @property
    def warmup_remaining_s(self) -> float:
        return max(0.0, self.config.warmup_s - (self._t - self._powered_at))

    @property
    def fault_code(self) -> FaultCode:
        if self._probe_out:
            return FaultCode.SENSOR_OUT
        if self._sensor_fault:
            return FaultCode.SENSOR_FAULT
        return FaultCode.NONE

    def _raw_pct_lel(self) -> float:
        if self._stuck_pct_lel is not None:
            return self._stuck_pct_lel
        measured = self._sensed_vol_pct / self.settings.lel_basis_vol_pct * 100.0
        return max(0.0, measured + self._noise_pct_lel)

    @property
    def reading_pct_lel(self) -> float | None:
        """The displayed concentration, clamped at full scale; None in warm-up or fault."""
        if self.warmup_remaining_s > 0.0 or self.fault_code is not FaultCode.NONE:
            return None
        return min(self._raw_pct_lel(), FULL_SCALE_PCT_LEL)

    @property
    def status(self) -> DetectorStatus:
        status = DetectorStatus(0)
        if self.warmup_remaining_s > 0.0:
            status |= DetectorStatus.WARMUP
        if self._al1:
            status |= DetectorStatus.AL1
        if self._al2:
            status |= DetectorStatus.AL2
        if self.fault_code is not FaultCode.NONE:
            status |= DetectorStatus.FAULT
        if self._probe_out:
            status |= DetectorStatus.SENSOR_OUT
        if self.reading_pct_lel is not None and self._raw_pct_lel() > FULL_SCALE_PCT_LEL:
            status |= DetectorStatus.OVER_RANGE
        if self._held_by_latch():
            status |= DetectorStatus.LATCHED
        return status

    # ---- alarms ---------------------------------------------------------------------------

    def _evaluate_alarms(self) -> None:
        reading = self.reading_pct_lel
        s = self.settings
        if reading is None:
            if self.warmup_remaining_s > 0.0:
                self._al1 = self._al2 = False
            else:  # fault: no measurement, only latched alarms hold
                self._al1 = self._al1 and s.latch_al1
                self._al2 = self._al2 and s.latch_al2
            return
        self._al1 = _next_alarm(self._al1, reading, s.al1_pct_lel, s.hysteresis_pct_lel, s.latch_al1)
        self._al2 = _next_alarm(self._al2, reading, s.al2_pct_lel, s.hysteresis_pct_lel, s.latch_al2)

    def _gas_cleared(self, setpoint: float) -> bool:
        reading = self.reading_pct_lel
        return reading is None or reading <= setpoint - self.settings.hysteresis_pct_lel

    def _held_by_latch(self) -> bool:
        s = self.settings
        return (self._al1 and s.latch_al1 and self._gas_cleared(s.al1_pct_lel)) or (
            self._al2 and s.latch_al2 and self._gas_cleared(s.al2_pct_lel)
        )

    def reset_alarms(self) -> None:
        """Clear latched alarms whose gas condition has cleared; others stay on."""
        if self._al1 and self._gas_cleared(self.settings.al1_pct_lel):
            self._al1 = False
        if self._al2 and self._gas_cleared(self.settings.al2_pct_lel):
            self._al2 = False

    def apply_settings(self, settings: DetectorSettings) -> None:
        """Replace the settings (raises ``SettingRejected`` and keeps the old ones if invalid)."""
        settings.check()
        self.settings = settings
        self._evaluate_alarms()

    # ---- scenario events and sensor faults ------------------------------------------------

    def start_leak(self, peak_pct_lel: float, rise_s: float, hold_s: float, fall_s: float) -> LeakEvent:
        """Start a leak now; the peak is taken in % LEL on the current LEL basis."""
        if peak_pct_lel <= 0.0 or min(rise_s, hold_s, fall_s) < 0.0:
            raise ValueError("a leak needs a positive peak and non-negative durations")
        leak = LeakEvent(
            start_s=self._t,
            peak_vol_pct=peak_pct_lel / 100.0 * self.settings.lel_basis_vol_pct,
            rise_s=rise_s,
            hold_s=hold_s,
            fall_s=fall_s,
        )
        self._leaks.append(leak)
        return leak

    def set_sensor_fault(self, on: bool = True) -> None:
        self._sensor_fault = on
        self._evaluate_alarms()

    def set_probe_out(self, on: bool = True) -> None:
        self._probe_out = on
        self._evaluate_alarms()

    def set_stuck(self, on: bool = True) -> None:
        """Freeze the reading at its present value (or release it)."""
        self._stuck_pct_lel = self._raw_pct_lel() if on else None

    def power_cycle(self) -> None:
        """Power restored: warm-up starts again, alarms clear, settings are kept."""
        self._powered_at = self._t
        self._al1 = self._al2 = False
        self.last_command = 0
