"""Quality of a value, in the spirit of OPC UA status codes: good, uncertain or bad, with a reason."""

from __future__ import annotations

from enum import StrEnum


class Quality(StrEnum):
    GOOD = "good"
    UNCERTAIN = "uncertain"
    BAD = "bad"


class BadReason(StrEnum):
    """Why a value is not good. Stored beside the value and shown to people."""

    COMM_LOSS = "comm-loss"          # the device did not answer
    DEVICE_ERROR = "device-error"    # the device answered with an error (e.g. a Modbus exception)
    BAD_FRAME = "bad-frame"          # the answer could not be decoded (checksum, length)
    OUT_OF_RANGE = "out-of-range"
    SENSOR_FAULT = "sensor-fault"
    STALE = "stale"                  # the source stopped reporting (seq gap, death)
