"""Gas-side analytics from telemetry: LNG holding time, CNG cascade bank usage, compressor duty. Pure.

Telemetry is report-by-exception: a metric's value holds from its point until the next one. Every function here
takes a ``Series`` (``(time, value)`` pairs in time order, the first one at or before the window's start when
there is one) and a window, and treats the series as that step function. docs/gas-analytics.md.

* **LNG holding time**: how long until the tank's pressure reaches the relief setting at the current rate of
  rise (the least-squares slope of the pressure over the last ``rate_window``), and the same from the liquid's
  warming along methane's saturation curve (the pressure rises faster as it climbs: a shorter, truer figure).
  Dispensing lowers the pressure and a vent drops it, so the slope is taken over the latest stretch in which
  the pressure did not fall by more than ``drop_mpa`` from one point to the next (the heat leak's rise, not the
  last fill's dip).
* **CNG cascade bank usage**: a fill is a stretch in which a dispenser's ``state`` is filling; per bank,
  how many fills it supplied, how long it supplied, and how far its pressure fell while it did (per fill).
* **Compressor duty**: the fraction of the window it ran (``starting`` or ``running``) and its starts per hour.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

Series = Sequence[tuple[datetime, float]]

BANKS = {1: "low", 2: "mid", 3: "high"}              # cng{n}/active_bank and compressor/filling_bank: 0 is none
CNG_FILLING = 1                                      # cng{n}/state: 0 idle, 1 filling, 2 complete, 3 fault
COMPRESSOR_RUNNING = frozenset({1, 2})               # compressor/state: 0 stopped, 1 starting, 2 running, 3 fault
RELIEF_G_MPA = 1.1                                   # domain.md §2.5: vent or relieve above 1.1 MPa (gauge)


def _in_window(series: Series, start: datetime, end: datetime) -> list[tuple[datetime, float]]:
    """The step function on [start, end): the value holding at ``start`` (if any) then the changes inside."""
    before = [p for p in series if p[0] <= start]
    inside = [p for p in series if start < p[0] < end]
    return ([(start, before[-1][1])] if before else []) + inside


def _value_at(series: Series, at: datetime) -> float | None:
    value = None
    for ts, v in series:
        if ts > at:
            break
        value = v
    return value


# ---------------------------------------------------------------- LNG holding time

ATMOSPHERE_MPA = 0.101325
# methane saturation, domain.md §2.5 (CoolProp): absolute MPa → °C; interpolated as ln P against 1/T
_SATURATION = ((0.101, -161.5), (0.2, -152.5), (0.4, -141.7), (0.6, -134.4), (0.8, -128.7), (1.0, -124.0),
               (1.2, -119.9), (1.6, -113.0))
_LN_P = np.log([p for p, _ in _SATURATION])
_INV_T = 1.0 / (np.array([t for _, t in _SATURATION]) + 273.15)


def saturation_c(pressure_g_mpa: float) -> float:
    """Methane's saturation temperature at a gauge pressure (0 … 1.5 MPa g; clamped outside the table)."""
    ln_p = math.log(max(pressure_g_mpa + ATMOSPHERE_MPA, 0.05))
    return 1.0 / float(np.interp(ln_p, _LN_P, _INV_T)) - 273.15


@dataclass(frozen=True, slots=True)
class HoldingTime:
    pressure_g_mpa: float                 # the latest reading
    relief_g_mpa: float
    rise_kpa_per_h: float | None          # None: too few points to say
    hours_to_relief: float | None         # at the current rate of rise; None: not rising (or unknown); 0: at relief
    relief_at: datetime | None
    points: int                           # how many readings the rate is from
    # the same heat leak warms the liquid at a steady rate, and the pressure follows the saturation curve, which
    # steepens: the time to relief when the liquid's temperature keeps rising at its current rate (shorter)
    hours_to_relief_saturated: float | None = None


def lng_holding_time(pressure: Series, now: datetime, relief_g_mpa: float = RELIEF_G_MPA,
                     rate_window: timedelta = timedelta(hours=6), drop_mpa: float = 0.005) -> HoldingTime | None:
    """Time to relief pressure at the current rate of rise; None without any pressure reading."""
    readings = [p for p in pressure if p[0] <= now]
    if not readings:
        return None
    latest_ts, latest = readings[-1]
    recent = [p for p in readings if p[0] >= now - rate_window]
    # the latest stretch without a fall: walk back from the newest reading to the last drop
    stretch = recent[-1:]
    for earlier in reversed(recent[:-1]):
        if stretch[0][1] < earlier[1] - drop_mpa:
            break
        stretch.insert(0, earlier)
    if latest >= relief_g_mpa:
        return HoldingTime(latest, relief_g_mpa, None, 0.0, latest_ts, len(stretch))
    if len(stretch) < 3 or (stretch[-1][0] - stretch[0][0]) < timedelta(minutes=10):
        return HoldingTime(latest, relief_g_mpa, None, None, None, len(stretch))
    hours = np.array([(ts - stretch[0][0]).total_seconds() / 3600.0 for ts, _ in stretch])
    values = np.array([v for _, v in stretch])
    slope_mpa_h = float(np.polyfit(hours, values, 1)[0])
    if slope_mpa_h <= 0.0:
        return HoldingTime(latest, relief_g_mpa, slope_mpa_h * 1000.0, None, None, len(stretch))
    to_relief = (relief_g_mpa - latest) / slope_mpa_h
    warming_c_h = float(np.polyfit(hours, [saturation_c(v) for v in values], 1)[0])
    saturated = (saturation_c(relief_g_mpa) - saturation_c(latest)) / warming_c_h
    return HoldingTime(latest, relief_g_mpa, slope_mpa_h * 1000.0, to_relief, latest_ts + timedelta(hours=to_relief),
                       len(stretch), saturated)


# ---------------------------------------------------------------- CNG cascade bank usage

@dataclass(frozen=True, slots=True)
class BankUsage:
    bank: str
    fills: int                            # fills this bank supplied (in part)
    supplying_s: float                    # time it supplied a dispenser
    share: float                          # of all supplying time
    mean_drop_mpa: float | None           # its pressure fall while supplying, per fill (None: no pressure data)
    max_drop_mpa: float | None


@dataclass(frozen=True, slots=True)
class CascadeUsage:
    fills: int
    banks: tuple[BankUsage, ...]          # low, mid, high
    fills_ending_on_high: int             # a fill that needed the high bank: the cascade was low for it


@dataclass(frozen=True, slots=True)
class _Stint:
    bank: int
    start: datetime
    end: datetime


def _fills(state: Series, active_bank: Series, start: datetime, end: datetime) -> list[list[_Stint]]:
    """One dispenser's fills in the window (while its ``state`` is filling), each its bank stints in order."""
    states, banks = _in_window(state, start, end), _in_window(active_bank, start, end)
    changes = sorted({ts for ts, _ in states} | {ts for ts, _ in banks})
    fills: list[list[_Stint]] = []
    current: list[_Stint] = []
    for i, ts in enumerate(changes):
        until = changes[i + 1] if i + 1 < len(changes) else end
        filling = _value_at(states, ts) == CNG_FILLING
        bank = int(_value_at(banks, ts) or 0)
        if filling and bank in BANKS:
            if current and current[-1].bank == bank and current[-1].end == ts:
                current[-1] = _Stint(bank, current[-1].start, until)
            else:
                current.append(_Stint(bank, ts, until))
        elif not filling and current:
            fills.append(current)
            current = []
    if current:
        fills.append(current)
    return fills


def cascade_usage(dispensers: Sequence[tuple[Series, Series]], bank_pressures: Mapping[str, Series], start: datetime,
                  end: datetime) -> CascadeUsage:
    """``dispensers``: each CNG dispenser's (``state``, ``active_bank``) series; ``bank_pressures``:
    ``low``/``mid``/``high`` → that bank's pressure series (MPa g)."""
    fills = [fill for state, bank in dispensers for fill in _fills(state, bank, start, end)]
    seconds = {b: 0.0 for b in BANKS}
    counts = {b: 0 for b in BANKS}
    drops: dict[int, list[float]] = {b: [] for b in BANKS}
    for fill in fills:
        for bank in {s.bank for s in fill}:
            counts[bank] += 1
            stints = [s for s in fill if s.bank == bank]
            seconds[bank] += sum((s.end - s.start).total_seconds() for s in stints)
            series = bank_pressures.get(BANKS[bank], ())
            before, after = _value_at(series, stints[0].start), _value_at(series, stints[-1].end)
            if before is not None and after is not None:
                drops[bank].append(before - after)
    total = sum(seconds.values())
    banks = tuple(BankUsage(name, counts[b], seconds[b], seconds[b] / total if total else 0.0,
                            float(np.mean(drops[b])) if drops[b] else None, max(drops[b]) if drops[b] else None)
                  for b, name in BANKS.items())
    return CascadeUsage(len(fills), banks, sum(1 for fill in fills if fill[-1].bank == 3))


# ---------------------------------------------------------------- compressor duty

@dataclass(frozen=True, slots=True)
class CompressorDuty:
    running_fraction: float | None        # None: no state known in the window
    running_s: float
    starts: int
    starts_per_hour: float
    known_s: float                        # how much of the window the state was known


def compressor_duty(state: Series, start: datetime, end: datetime) -> CompressorDuty:
    """Running fraction and starts per hour of the compressor over [start, end) from its ``state`` series."""
    steps = _in_window(state, start, end)
    running = known = 0.0
    starts = 0
    was_running: bool | None = None
    for i, (ts, value) in enumerate(steps):
        until = steps[i + 1][0] if i + 1 < len(steps) else end
        span = (until - ts).total_seconds()
        now_running = int(value) in COMPRESSOR_RUNNING
        known += span
        running += span if now_running else 0.0
        if now_running and was_running is False:
            starts += 1
        was_running = now_running
    hours = (end - start).total_seconds() / 3600.0
    return CompressorDuty(running / known if known else None, running, starts, starts / hours if hours else 0.0,
                          known)
