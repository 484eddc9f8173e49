"""Sparkplug B codec: wire compatibility with the published schema, every datatype, quality, bad bytes."""

import pytest

from telemetry.contracts.quality import Quality
from telemetry.contracts.sparkplug import DataType, Metric, Payload, SparkplugDecodeError, decode, encode


def test_header_fields_use_the_specification_field_numbers() -> None:
    # Payload.timestamp = field 1 (varint), Payload.seq = field 3 (varint)
    assert encode(Payload(timestamp_ms=1, seq=2)) == b"\x08\x01\x18\x02"


def test_metric_name_alias_and_double_value_field_numbers() -> None:
    raw = encode(Payload(None, None, (Metric("a", 5, None, DataType.DOUBLE, 1.5),)))
    # metrics = field 2 (length-delimited); name = 1, alias = 2, datatype = 4, double_value = 13 (fixed64)
    assert raw[0] == 0x12
    body = raw[2:]
    assert body.startswith(b"\x0a\x01a\x10\x05\x20\x0a\x69")


@pytest.mark.parametrize(("datatype", "value"), [
    (DataType.INT8, -5), (DataType.INT16, -300), (DataType.INT32, -70000), (DataType.INT64, -(2**40)),
    (DataType.UINT8, 200), (DataType.UINT16, 65535), (DataType.UINT32, 4_000_000_000),
    (DataType.UINT64, 2**63 + 7), (DataType.DOUBLE, 1234.5678), (DataType.BOOLEAN, True),
    (DataType.BOOLEAN, False), (DataType.STRING, "92#汽油"), (DataType.INT64, None),
])
def test_every_datatype_round_trips(datatype: DataType, value: object) -> None:
    payload = Payload(1_700_000_000_000, 7, (Metric("m", 1, 1_700_000_000_123, datatype, value),))  # type: ignore[arg-type]
    back = decode(encode(payload))
    assert back.seq == 7 and back.timestamp_ms == 1_700_000_000_000
    assert back.metrics[0].value == value
    assert back.metrics[0].datatype is datatype


def test_float_keeps_single_precision() -> None:
    back = decode(encode(Payload(None, None, (Metric("f", 1, None, DataType.FLOAT, 0.1),))))
    assert back.metrics[0].value == pytest.approx(0.1, rel=1e-6)


def test_alias_only_data_needs_the_birth_datatype_for_signed_values() -> None:
    raw = encode(Payload(None, 1, (Metric(None, 3, None, DataType.INT32, -2),)))
    assert b"\x20" not in raw  # no datatype field in a data message
    assert decode(raw, {3: DataType.INT32}).metrics[0].value == -2
    assert decode(raw).metrics[0].value == 2**32 - 2  # without the birth the sign is unknown


def test_quality_and_reason_travel_as_properties() -> None:
    m = Metric("p", 1, 5, DataType.DOUBLE, None, quality=Quality.BAD, quality_reason="comm-loss",
               properties={"engUnit": "L"})
    back = decode(encode(Payload(None, None, (m,)))).metrics[0]
    assert back.quality is Quality.BAD and back.quality_reason == "comm-loss"
    assert back.properties == {"engUnit": "L"}
    assert back.value is None


def test_good_quality_adds_no_properties_and_historical_flag_survives() -> None:
    m = Metric(None, 2, 5, DataType.INT64, 3, is_historical=True)
    raw = encode(Payload(None, None, (m,)))
    back = decode(raw, {2: DataType.INT64}).metrics[0]
    assert back.is_historical and back.quality is Quality.GOOD
    assert b"Quality" not in raw


@pytest.mark.parametrize("garbage", [b"\xff\xff\xff", b"\x12\x05\x0a", b"\x0a" * 3, bytes(range(200, 256))])
def test_garbage_is_a_decode_error(garbage: bytes) -> None:
    with pytest.raises(SparkplugDecodeError):
        decode(garbage)
