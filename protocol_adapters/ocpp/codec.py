"""OCPP payloads as plain data: meter values, timestamps, connector status, bad frames (pure, no I/O).

The ``ocpp`` library hands our handlers the payload as snake_case dicts. What differs between the
versions, and what this module hides:

- **1.6** ``sampledValue.value`` is a *string* with ``unit`` beside it; a missing ``measurand`` means
  ``Energy.Active.Import.Register`` and a missing unit ``Wh``. ``format: SignedData`` values are
  opaque and skipped.
- **2.0.1** ``value`` is a *number* with ``unitOfMeasure{unit, multiplier}`` (value × 10^multiplier).

Energy comes out in Wh (the register), power in kW, state of charge in %. Per-phase values are
summed when no total is given. Each value is checked *after* scaling to our unit (``check_value``):
it must be finite and within ``LIMITS`` — an energy register is never negative and never above
``ENERGY_REGISTER_MAX_WH``, a state of charge is 0–100 %. A value that cannot be read or fails
that check is left out and named in ``problems`` (the caller counts and logs them); the good
values beside it are kept. No value that leaves this module is ``inf`` or ``nan``.
A frame that is not OCPP-J gets a CALLERROR with the id and code that ``message_id`` and ``frame_error_code`` choose.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

ENERGY = "Energy.Active.Import.Register"
POWER = "Power.Active.Import"
SOC = "SoC"
_DEFAULT_UNIT = {ENERGY: "Wh", POWER: "W", SOC: "Percent"}
#: power of ten to our unit (energy Wh, power kW, SoC %)
_EXPONENTS: dict[str, dict[str, int]] = {
    ENERGY: {"Wh": 0, "kWh": 3},
    POWER: {"W": -3, "kW": 0},
    SOC: {"Percent": 0},
}
_PHASES = {"L1", "L2", "L3", "L1-N", "L2-N", "L3-N"}
#: the largest energy register we believe, Wh: 100 GWh, more than a 350 kW charger meters in 30 years
ENERGY_REGISTER_MAX_WH = 1e11
_MAX_EXPONENT = 30
#: what a value may be, in our unit (energy Wh, power kW, SoC %): (lowest, highest)
LIMITS: dict[str, tuple[float, float]] = {
    ENERGY: (0.0, ENERGY_REGISTER_MAX_WH),
    POWER: (-10_000.0, 10_000.0),   # ±10 MW: no charger comes near; a little negative import is meter noise
    SOC: (0.0, 100.0),
}


class OcppVersion(StrEnum):
    V16 = "1.6"
    V201 = "2.0.1"


#: websocket subprotocol → version (the server prefers the first one the charger offers)
SUBPROTOCOLS: dict[str, OcppVersion] = {"ocpp2.0.1": OcppVersion.V201, "ocpp1.6": OcppVersion.V16}


class PayloadError(ValueError):
    """A field of an OCPP payload that cannot be read (a bad timestamp, a bad number)."""


@dataclass(frozen=True, slots=True)
class MeterSample:
    """One ``meterValue`` entry: what the meter said at one instant (None: not in the sample)."""

    timestamp: datetime
    energy_wh: float | None = None
    power_kw: float | None = None
    soc_pct: float | None = None
    context: str = "Sample.Periodic"
    problems: tuple[str, ...] = ()


def parse_timestamp(text: object) -> datetime:
    """An OCPP ``dateTime`` (ISO 8601; ``Z`` or an offset; no zone is taken as UTC) as aware UTC."""
    if not isinstance(text, str):
        raise PayloadError(f"timestamp must be a string, got {text!r}")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise PayloadError(f"not an ISO 8601 timestamp: {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _number(sampled: Mapping[str, Any], version: OcppVersion) -> float:
    raw = sampled.get("value")
    if version is OcppVersion.V16:
        if not isinstance(raw, str):
            raise PayloadError(f"1.6 value must be a string, got {raw!r}")
        try:
            value = float(raw)
        except ValueError:
            raise PayloadError(f"not a number: {raw!r}") from None
    else:
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            raise PayloadError(f"2.0.1 value must be a number, got {raw!r}")
        value = float(raw)
    if not math.isfinite(value):
        raise PayloadError(f"not a finite number: {raw!r}")
    return value


def check_value(value: float, measurand: str) -> float:
    """``value`` (already in our unit) when it is finite and within ``LIMITS``; else PayloadError."""
    low, high = LIMITS[measurand]
    if not math.isfinite(value):
        raise PayloadError(f"{measurand}: not a finite number after scaling: {value!r}")
    if not low <= value <= high:
        raise PayloadError(f"{measurand}: {value:g} is outside {low:g} to {high:g}")
    return value


def check_energy_register(value_wh: float) -> float:
    """An energy register reading in Wh (e.g. a 1.6 meterStart / meterStop) that we may believe."""
    return check_value(float(value_wh), ENERGY)


def _scaled(sampled: Mapping[str, Any], measurand: str, version: OcppVersion) -> float:
    """The sampled value in our unit for ``measurand``."""
    value = _number(sampled, version)
    if version is OcppVersion.V16:
        unit, multiplier = sampled.get("unit") or _DEFAULT_UNIT[measurand], 0
    else:
        uom = sampled.get("unit_of_measure") or {}
        unit, multiplier = uom.get("unit") or _DEFAULT_UNIT[measurand], uom.get("multiplier", 0)
    exponent = _EXPONENTS[measurand].get(str(unit))
    if exponent is None:
        raise PayloadError(f"{measurand}: unit {unit!r} is not one of {sorted(_EXPONENTS[measurand])}")
    if isinstance(multiplier, bool) or not isinstance(multiplier, int):
        raise PayloadError(f"{measurand}: multiplier must be an integer, got {multiplier!r}")
    exponent += int(multiplier)
    if abs(exponent) > _MAX_EXPONENT:   # also keeps 10 ** exponent from becoming a huge integer
        raise PayloadError(f"{measurand}: multiplier {multiplier} is out of range")
    factor = float(10 ** abs(exponent))
    scaled = value * factor if exponent >= 0 else value / factor   # divide: 7020 W / 1000 is exactly 7.02
    return check_value(scaled, measurand)


def parse_meter_value(meter_value: Mapping[str, Any], version: OcppVersion) -> MeterSample:
    """One ``meterValue`` entry (timestamp + sampled values); raises PayloadError for a bad timestamp."""
    timestamp = parse_timestamp(meter_value.get("timestamp"))
    totals: dict[str, float] = {}
    phased: dict[str, list[float]] = {}
    problems: list[str] = []
    context = "Sample.Periodic"
    for sampled in meter_value.get("sampled_value") or ():
        measurand = sampled.get("measurand") or ENERGY
        context = sampled.get("context") or context
        if measurand not in _EXPONENTS or sampled.get("format") == "SignedData":
            continue
        try:
            value = _scaled(sampled, measurand, version)
        except PayloadError as exc:
            problems.append(str(exc))
            continue
        phase = sampled.get("phase")
        if phase is None:
            totals[measurand] = value
        elif phase in _PHASES and measurand != SOC:
            phased.setdefault(measurand, []).append(value)
    for measurand, values in phased.items():
        totals.setdefault(measurand, sum(values))
    return MeterSample(timestamp, totals.get(ENERGY), totals.get(POWER), totals.get(SOC), context, tuple(problems))


def parse_meter_values(meter_values: Sequence[Mapping[str, Any]] | None, version: OcppVersion) -> list[MeterSample]:
    """Every readable ``meterValue`` entry, oldest first; an entry with a bad timestamp is dropped."""
    samples = []
    for entry in meter_values or ():
        try:
            samples.append(parse_meter_value(entry, version))
        except PayloadError:
            continue
    return sorted(samples, key=lambda s: s.timestamp)


def message_id(raw: str | bytes) -> str:
    """The message id of a frame that is not valid OCPP-J, if one can be read; else ``-1``."""
    try:
        frame = json.loads(raw)
    except (ValueError, TypeError):
        return "-1"
    if isinstance(frame, list) and len(frame) > 1 and isinstance(frame[1], str) and frame[1]:
        return frame[1]
    return "-1"


def frame_error_code(raw: str | bytes, version: OcppVersion) -> str:
    """The CALLERROR code for a frame that ``ocpp.messages.unpack`` refuses."""
    if version is OcppVersion.V16:
        return "FormationViolation"
    try:
        frame = json.loads(raw)
    except (ValueError, TypeError):
        return "RpcFrameworkError"
    if isinstance(frame, list) and frame and frame[0] not in (2, 3, 4) and message_id(raw) != "-1":
        return "MessageTypeNotSupported"
    return "RpcFrameworkError"


def connector_status_201(connector_status: str | None, charging_state: str | None, *,
                         in_transaction: bool, ended_with_ev: bool) -> str | None:
    """A 2.0.1 connector in the 1.6 status words, so that dashboards see one vocabulary.

    ``Occupied`` is refined by the transaction's ``chargingState``: Charging, SuspendedEV and
    SuspendedEVSE as such; otherwise Preparing (EV plugged in, no energy yet), or Finishing when the
    last transaction ended with the EV still connected.
    """
    if connector_status != "Occupied":
        return connector_status
    if in_transaction:
        if charging_state in ("Charging", "SuspendedEV", "SuspendedEVSE"):
            return charging_state
        return "Preparing"
    return "Finishing" if ended_with_ev else "Preparing"
