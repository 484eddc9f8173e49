"""Pure codec speed: Sparkplug B payloads and Modbus register decoding.

Baselines: the same metrics through ``json`` (stdlib), and ``struct.unpack`` of the same words.
"""

from __future__ import annotations

import json
import struct

from benchmarks.figures import Figure, rate
from protocol_adapters.modbus.codec import decode_block, plan_reads
from protocol_adapters.modbus.profiles import dispenser_v1
from telemetry.contracts.sparkplug import DataType, Metric, Payload, decode, encode

METRICS = 50


def run() -> list[Figure]:
    payload = Payload(1_700_000_000_000, 1, tuple(
        Metric(None, i, 1_700_000_000_000 + i, DataType.DOUBLE, i * 1.5) for i in range(METRICS)))
    raw = encode(payload)
    as_json = json.dumps([{"alias": m.alias, "timestamp": m.timestamp_ms, "value": m.value}
                          for m in payload.metrics]).encode()
    datatypes = {i: DataType.DOUBLE for i in range(METRICS)}

    blocks = plan_reads(dispenser_v1(2, 4))
    words = {b: [7] * b.count for b in blocks}
    fmt = {b: f">{b.count}H" for b in blocks}
    packed = {b: struct.pack(fmt[b], *words[b]) for b in blocks}
    points = sum(len(b.points) for b in blocks)

    return [
        Figure("sparkplug encode", rate(lambda: encode(payload), METRICS), "metrics/s",
               rate(lambda: json.dumps([{"alias": m.alias, "timestamp": m.timestamp_ms, "value": m.value}
                                        for m in payload.metrics]), METRICS), "json.dumps"),
        Figure("sparkplug decode", rate(lambda: decode(raw, datatypes), METRICS), "metrics/s",
               rate(lambda: json.loads(as_json), METRICS), "json.loads",
               note=f"{len(raw)} bytes protobuf vs {len(as_json)} bytes JSON for {METRICS} metrics"),
        Figure("modbus decode (dispenser map)", rate(lambda: [decode_block(b, words[b]) for b in blocks], points),
               "points/s", rate(lambda: [struct.unpack(fmt[b], packed[b]) for b in blocks], points),
               "struct.unpack of the same registers"),
    ]
