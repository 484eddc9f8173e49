"""Test table: Sparkplug payloads that no row may hold, each with a fragment of the reason ingest must give.

Every payload here is well-formed protobuf that a station's own MQTT login may publish; each one crashed
or stalled ingest before the limits in ``telemetry/ingest/limits.py``.
"""

from __future__ import annotations

import random
import string

from telemetry.contracts.quality import Quality
from telemetry.contracts.sparkplug import DataType, Metric, Payload, encode

U64_MAX = 2**64 - 1


def _long_name(chars: int) -> str:
    rng = random.Random(7)      # incompressible, so PostgreSQL cannot squeeze it into an index row
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(chars))


def _one(metric: Metric, timestamp_ms: int = 1000, seq: int = 0) -> bytes:
    return encode(Payload(timestamp_ms, seq, (metric,)))


POISON: dict[str, tuple[bytes, str]] = {
    "metric timestamp 2^64-1": (_one(Metric("x", 5, U64_MAX, DataType.DOUBLE, 1.0)), "timestamp"),
    "payload timestamp 2^64-1": (_one(Metric("x", 5, 1000, DataType.DOUBLE, 1.0), timestamp_ms=U64_MAX),
                                 "payload timestamp"),
    "NUL in a string value": (_one(Metric("x", 5, 1000, DataType.STRING, "a\x00b")), "NUL"),
    "NUL in a metric name": (_one(Metric("x\x00y", 5, 1000, DataType.DOUBLE, 1.0)), "NUL"),
    "10,000-character metric name": (_one(Metric(_long_name(10_000), 5, 1000, DataType.DOUBLE, 1.0)),
                                     "name of 10000 characters"),
    "alias 2^64-1": (_one(Metric("x", U64_MAX, 1000, DataType.DOUBLE, 1.0)), "alias"),
    "NUL in a unit": (_one(Metric("x", 5, 1000, DataType.DOUBLE, 1.0, properties={"engUnit": "L\x00"})),
                      "engUnit"),
    "NUL in a quality reason": (_one(Metric("x", 5, 1000, DataType.DOUBLE, 1.0, quality=Quality.BAD,
                                            quality_reason="comm\x00loss")), "quality reason"),
    "NaN": (_one(Metric("x", 5, 1000, DataType.DOUBLE, float("nan"))), "finite"),
    "2 MiB payload": (_one(Metric("x", 5, 1000, DataType.STRING, "y" * (2 * 1024 * 1024))), "payload of"),
    "not protobuf": (b"\xff\xfe garbage", "not a Sparkplug B payload"),
}

LONG_NAME = _long_name(10_000)
