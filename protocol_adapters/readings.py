"""What every adapter hands to the edge node: typed readings with quality and a source timestamp."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from telemetry.contracts.quality import Quality

Value = bool | int | float | str | None


@dataclass(frozen=True, slots=True)
class Reading:
    key: str
    value: Value
    source_time: datetime
    quality: Quality = Quality.GOOD
    reason: str = ""


class AdapterError(Exception):
    """Base of every adapter failure; ``reason`` is a short code stored with bad-quality values."""

    reason = "device-error"


class DeviceUnavailable(AdapterError):
    """The device did not answer (connection refused, timeout, closed)."""

    reason = "comm-loss"


class DeviceRejected(AdapterError):
    """The device answered with an error (e.g. a Modbus exception code)."""

    reason = "device-error"


class BadFrame(AdapterError):
    """The device's answer could not be decoded (checksum, length, garbage)."""

    reason = "bad-frame"
