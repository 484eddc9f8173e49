"""Time values of a scenario file: durations (``"00:12:00"`` or seconds) and rates by hour of day.

Pure parsing, used by the pydantic models as ``BeforeValidator``s so that a wrong value fails
at load time with the key that holds it.

- ``Seconds``: a number of simulated seconds, or ``"[[H:]M:]S"`` (``"00:12:00"`` = 720 s,
  ``"1:30:00"`` = 5400 s, ``"12:00"`` = 12 min). YAML 1.1 reads an unquoted ``1:30:00`` as the
  integer 5400 (base 60), which is the same number of seconds, so quoting is optional.
- ``HourlyRates``: events per hour for each hour of the station's day, given as one number
  (every hour alike), a list of 24 numbers (hour 0 first), or a mapping ``{hour: rate}`` read as
  a step function: each listed hour's rate holds until the next listed hour, wrapping round
  midnight (``{7: 90, 9: 50, 17: 100, 20: 20}``: 20 per hour from 20:00 to 07:00).
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import BeforeValidator

HOURS_PER_DAY = 24


def parse_seconds(value: Any) -> float:
    """Simulated seconds from a number or an ``[[H:]M:]S`` string; never negative."""
    if isinstance(value, bool):
        raise ValueError(f"expected seconds or 'HH:MM:SS', got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        seconds = _clock_text(value.strip())
    else:
        raise ValueError(f"expected seconds or 'HH:MM:SS', got {value!r}")
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"expected a duration ≥ 0, got {value!r}")
    return seconds


def _clock_text(text: str) -> float:
    parts = text.split(":")
    if not 1 <= len(parts) <= 3 or any(not p.strip() for p in parts):
        raise ValueError(f"expected seconds or 'HH:MM:SS', got {text!r}")
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        raise ValueError(f"expected seconds or 'HH:MM:SS', got {text!r}") from None
    if any(n < 0 for n in numbers) or any(n >= 60 for n in numbers[1:]):
        raise ValueError(f"expected 'HH:MM:SS' with minutes and seconds below 60, got {text!r}")
    seconds = 0.0
    for number in numbers:
        seconds = seconds * 60 + number
    return seconds


def format_clock(seconds: float) -> str:
    """``HH:MM:SS`` of a number of seconds (hours may exceed 24)."""
    whole = int(seconds)
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def parse_hourly_rates(value: Any) -> tuple[float, ...]:
    """24 non-negative rates per hour from a number, a list of 24 or a step-function mapping."""
    if isinstance(value, tuple | list):
        rates = [_rate(v) for v in value]
        if len(rates) != HOURS_PER_DAY:
            raise ValueError(f"expected 24 hourly rates (hour 0 first), got {len(rates)}")
        return tuple(rates)
    if isinstance(value, dict):
        if not value:
            raise ValueError("expected at least one {hour: rate} entry")
        steps: dict[int, float] = {}
        for hour, rate in value.items():
            number = _hour(hour)
            steps[number] = _rate(rate)
        rates = []
        for hour in range(HOURS_PER_DAY):
            earlier = [h for h in steps if h <= hour]
            rates.append(steps[max(earlier)] if earlier else steps[max(steps)])
        return tuple(rates)
    return (_rate(value),) * HOURS_PER_DAY


def _rate(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise ValueError(f"expected a rate per hour ≥ 0, got {value!r}")
    return float(value)


def _hour(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        hour = value
    elif isinstance(value, str) and value.strip().isdigit():
        hour = int(value)
    else:
        raise ValueError(f"expected an hour 0..23 as the key, got {value!r}")
    if not 0 <= hour < HOURS_PER_DAY:
        raise ValueError(f"expected an hour 0..23 as the key, got {value!r}")
    return hour


Seconds = Annotated[float, BeforeValidator(parse_seconds)]
HourlyRates = Annotated[tuple[float, ...], BeforeValidator(parse_hourly_rates)]
