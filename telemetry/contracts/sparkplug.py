"""Sparkplug B 3.0 payload codec: plain Python values in, protobuf bytes out, and back.

The wire schema is the one the specification publishes (``sparkplug_b.proto``, package
``org.eclipse.tahu.protobuf``). We declare the subset we use (Payload, Metric, PropertySet,
PropertyValue) with the same field numbers, built at import time with ``protobuf``'s descriptor
API, so there is no generated code and no protoc step. Fields we do not declare (DataSet,
Template, MetaData) survive as unknown fields and are ignored.

Quality travels as the metric property ``Quality`` (Int32: 192 good, 64 uncertain, 0 bad, as
Sparkplug tooling does) with ``qualityReason`` (String) beside it when the value is not good.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError

from telemetry.contracts.quality import Quality


class SparkplugDecodeError(ValueError):
    """The bytes are not a Sparkplug B payload we can read."""


class DataType(IntEnum):
    """Sparkplug B metric data types (specification §6.4.16)."""

    INT8 = 1
    INT16 = 2
    INT32 = 3
    INT64 = 4
    UINT8 = 5
    UINT16 = 6
    UINT32 = 7
    UINT64 = 8
    FLOAT = 9
    DOUBLE = 10
    BOOLEAN = 11
    STRING = 12
    DATETIME = 13
    TEXT = 14


_INT_TYPES = {DataType.INT8, DataType.INT16, DataType.INT32, DataType.UINT8, DataType.UINT16, DataType.UINT32}
_LONG_TYPES = {DataType.INT64, DataType.UINT64, DataType.DATETIME}
_SIGNED_BITS = {DataType.INT8: 8, DataType.INT16: 16, DataType.INT32: 32, DataType.INT64: 64}

QUALITY_CODES = {Quality.GOOD: 192, Quality.UNCERTAIN: 64, Quality.BAD: 0}
_QUALITY_BY_CODE = {code: q for q, code in QUALITY_CODES.items()}

Value = bool | int | float | str | None


@dataclass(frozen=True, slots=True)
class Metric:
    """One metric of a payload. ``name`` is sent in births; data messages may carry only ``alias``.

    ``datatype`` picks the protobuf value field; it goes on the wire only with a name (births).
    """

    name: str | None = None
    alias: int | None = None
    timestamp_ms: int | None = None
    datatype: DataType | None = None
    value: Value = None
    is_historical: bool = False
    quality: Quality = Quality.GOOD
    quality_reason: str = ""
    properties: dict[str, Value] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Payload:
    timestamp_ms: int | None
    seq: int | None
    metrics: tuple[Metric, ...] = ()


# --- schema -----------------------------------------------------------------------------------

_F = descriptor_pb2.FieldDescriptorProto


def _add_field(msg: Any, name: str, number: int, ftype: int, label: int = _F.LABEL_OPTIONAL,
               type_name: str = "", oneof: int | None = None) -> None:
    f = msg.field.add(name=name, number=number, type=ftype, label=label)
    if type_name:
        f.type_name = type_name
    if oneof is not None:
        f.oneof_index = oneof


def _build_payload_class() -> Any:
    pkg = "org.eclipse.tahu.protobuf"
    fdp = descriptor_pb2.FileDescriptorProto(name="forecourt_sparkplug_b.proto", package=pkg, syntax="proto2")
    payload = fdp.message_type.add(name="Payload")
    pv = payload.nested_type.add(name="PropertyValue")
    pv.oneof_decl.add(name="value")
    _add_field(pv, "type", 1, _F.TYPE_UINT32)
    _add_field(pv, "is_null", 2, _F.TYPE_BOOL)
    for name, num, ftype in [("int_value", 3, _F.TYPE_UINT32), ("long_value", 4, _F.TYPE_UINT64),
                             ("float_value", 5, _F.TYPE_FLOAT), ("double_value", 6, _F.TYPE_DOUBLE),
                             ("boolean_value", 7, _F.TYPE_BOOL), ("string_value", 8, _F.TYPE_STRING)]:
        _add_field(pv, name, num, ftype, oneof=0)
    ps = payload.nested_type.add(name="PropertySet")
    _add_field(ps, "keys", 1, _F.TYPE_STRING, _F.LABEL_REPEATED)
    _add_field(ps, "values", 2, _F.TYPE_MESSAGE, _F.LABEL_REPEATED, f".{pkg}.Payload.PropertyValue")
    metric = payload.nested_type.add(name="Metric")
    metric.oneof_decl.add(name="value")
    _add_field(metric, "name", 1, _F.TYPE_STRING)
    _add_field(metric, "alias", 2, _F.TYPE_UINT64)
    _add_field(metric, "timestamp", 3, _F.TYPE_UINT64)
    _add_field(metric, "datatype", 4, _F.TYPE_UINT32)
    _add_field(metric, "is_historical", 5, _F.TYPE_BOOL)
    _add_field(metric, "is_transient", 6, _F.TYPE_BOOL)
    _add_field(metric, "is_null", 7, _F.TYPE_BOOL)
    _add_field(metric, "properties", 9, _F.TYPE_MESSAGE, type_name=f".{pkg}.Payload.PropertySet")
    for name, num, ftype in [("int_value", 10, _F.TYPE_UINT32), ("long_value", 11, _F.TYPE_UINT64),
                             ("float_value", 12, _F.TYPE_FLOAT), ("double_value", 13, _F.TYPE_DOUBLE),
                             ("boolean_value", 14, _F.TYPE_BOOL), ("string_value", 15, _F.TYPE_STRING),
                             ("bytes_value", 16, _F.TYPE_BYTES)]:
        _add_field(metric, name, num, ftype, oneof=0)
    _add_field(payload, "timestamp", 1, _F.TYPE_UINT64)
    _add_field(payload, "metrics", 2, _F.TYPE_MESSAGE, _F.LABEL_REPEATED, f".{pkg}.Payload.Metric")
    _add_field(payload, "seq", 3, _F.TYPE_UINT64)
    _add_field(payload, "uuid", 4, _F.TYPE_STRING)
    _add_field(payload, "body", 5, _F.TYPE_BYTES)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{pkg}.Payload"))


_PayloadPB = _build_payload_class()


# --- value mapping ------------------------------------------------------------------------------

def _set_value(target: Any, datatype: DataType, value: Value) -> None:
    """Put ``value`` into the oneof field that ``datatype`` uses (signed ints as two's complement)."""
    if value is None:
        target.is_null = True
        return
    if datatype in _INT_TYPES:
        target.int_value = int(value) & 0xFFFFFFFF
    elif datatype in _LONG_TYPES:
        target.long_value = int(value) & 0xFFFFFFFFFFFFFFFF
    elif datatype is DataType.FLOAT:
        target.float_value = float(value)
    elif datatype is DataType.DOUBLE:
        target.double_value = float(value)
    elif datatype is DataType.BOOLEAN:
        target.boolean_value = bool(value)
    else:
        target.string_value = str(value)


def _get_value(source: Any, datatype: DataType | None) -> Value:
    if source.is_null:
        return None
    kind = source.WhichOneof("value")
    if kind is None:
        return None
    raw = getattr(source, kind)
    if kind in ("int_value", "long_value") and datatype in _SIGNED_BITS:
        bits = _SIGNED_BITS[datatype]
        raw &= (1 << bits) - 1
        if raw >= 1 << (bits - 1):
            raw -= 1 << bits
    if isinstance(raw, bytes):
        return raw.hex()
    return raw  # type: ignore[no-any-return]


def _property_type(value: Value) -> DataType:
    if isinstance(value, bool):
        return DataType.BOOLEAN
    if isinstance(value, int):
        return DataType.INT64
    if isinstance(value, float):
        return DataType.DOUBLE
    return DataType.STRING


# --- codec ----------------------------------------------------------------------------------------

def encode(payload: Payload) -> bytes:
    """Serialise a payload to Sparkplug B protobuf bytes."""
    pb = _PayloadPB()
    if payload.timestamp_ms is not None:
        pb.timestamp = payload.timestamp_ms
    if payload.seq is not None:
        pb.seq = payload.seq
    for m in payload.metrics:
        out = pb.metrics.add()
        if m.name is not None:
            out.name = m.name
        if m.alias is not None:
            out.alias = m.alias
        if m.timestamp_ms is not None:
            out.timestamp = m.timestamp_ms
        datatype = m.datatype or DataType.DOUBLE
        if m.name is not None:  # births name every metric with its type; data messages send aliases only
            out.datatype = datatype
        if m.is_historical:
            out.is_historical = True
        _set_value(out, datatype, m.value)
        props = dict(m.properties)
        if m.quality is not Quality.GOOD or "Quality" in props:
            props["Quality"] = QUALITY_CODES[m.quality]
            if m.quality_reason:
                props["qualityReason"] = m.quality_reason
        for key, value in props.items():
            out.properties.keys.append(key)
            pv = out.properties.values.add()
            ptype = DataType.INT32 if key == "Quality" else _property_type(value)
            pv.type = ptype
            _set_value(pv, ptype, value)
    return bytes(pb.SerializeToString())


# a metric as plain fields, in the order of ``Metric``'s: the ingest hot path reads these without building
# a ``Metric`` each: name, alias, timestamp_ms, datatype, value, is_historical, quality, quality_reason, properties
MetricFields = tuple[str | None, int | None, int | None, DataType | None, Value, bool, Quality, str, dict[str, Value]]

_GOOD = Quality.GOOD


def decode_fields(data: bytes, datatypes: dict[int, DataType] | None = None
                  ) -> tuple[int | None, int | None, list[MetricFields]]:
    """Parse Sparkplug B bytes into (timestamp_ms, seq, metric fields): ``decode`` without the objects.

    Raises ``SparkplugDecodeError`` for bytes that are not a payload.
    """
    pb = _PayloadPB()
    try:
        pb.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise SparkplugDecodeError(f"not a Sparkplug B payload: {exc}") from exc
    metrics: list[MetricFields] = []
    append = metrics.append
    for m in pb.metrics:
        has = m.HasField
        alias = m.alias if has("alias") else None
        datatype: DataType | None = None
        if has("datatype"):
            try:
                datatype = DataType(m.datatype)
            except ValueError:
                datatype = None
        elif datatypes and alias is not None:
            datatype = datatypes.get(alias)
        quality, reason = _GOOD, ""
        props: dict[str, Value] = {}
        if has("properties"):
            for key, pv in zip(m.properties.keys, m.properties.values, strict=False):
                try:
                    ptype: DataType | None = DataType(pv.type)
                except ValueError:
                    ptype = None
                props[key] = _get_value(pv, ptype)
            code = props.pop("Quality", QUALITY_CODES[_GOOD])
            quality = _QUALITY_BY_CODE.get(code if isinstance(code, int) else -1, Quality.UNCERTAIN)
            reason = str(props.pop("qualityReason", "") or "")
        # a double needs no sign rule: the common case reads it straight
        value = m.double_value if has("double_value") and not m.is_null else _get_value(m, datatype)
        append((m.name if has("name") else None, alias, m.timestamp if has("timestamp") else None, datatype,
                value, m.is_historical, quality, reason, props))
    return (pb.timestamp if pb.HasField("timestamp") else None, pb.seq if pb.HasField("seq") else None, metrics)


def decode(data: bytes, datatypes: dict[int, DataType] | None = None) -> Payload:
    """Parse Sparkplug B bytes. ``datatypes`` maps alias → datatype learnt from the births, so
    that signed values in alias-only data messages come back with their sign.

    Raises ``SparkplugDecodeError`` for bytes that are not a payload.
    """
    timestamp_ms, seq, fields = decode_fields(data, datatypes)
    return Payload(timestamp_ms, seq, tuple(Metric(*f) for f in fields))
