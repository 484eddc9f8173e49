"""Ingest's pure step: births define metrics, data become rows, bad input is refused, gaps ask for rebirth."""

import pytest

from telemetry.contracts import topics
from telemetry.contracts.quality import Quality
from telemetry.contracts.sparkplug import DataType, Metric, Payload, encode
from telemetry.contracts.topics import MessageType
from telemetry.ingest.decoder import Decoder, UndecodableMessage


def _nbirth(bd: int = 0) -> bytes:
    return encode(Payload(1000, 0, (Metric("bdSeq", 1, 1000, DataType.INT64, bd),)))


def _dbirth(seq: int = 1) -> bytes:
    return encode(Payload(1000, seq, (
        Metric("fp1/volume", 10, 1000, DataType.DOUBLE, 0.0, properties={"engUnit": "L"}),
        Metric("fp1/amount", 11, 1000, DataType.INT64, 0, properties={"engUnit": "fen"}),
    )))


def _ddata(seq: int, volume: float, quality: Quality = Quality.GOOD) -> bytes:
    return encode(Payload(2000, seq, (Metric(None, 10, 2000 + seq, DataType.DOUBLE, volume, quality=quality,
                                             quality_reason="comm-loss" if quality is Quality.BAD else ""),)))


NODE = topics.node_topic("g", MessageType.NBIRTH, "st-01")
DEV = "spBv1.0/g/{}/st-01/disp-01"


def test_birth_then_data_become_definitions_and_rows() -> None:
    d = Decoder()
    d.decode(NODE, _nbirth())
    birth = d.decode(DEV.format("DBIRTH"), _dbirth())
    assert {(m.name, m.unit) for m in birth.definitions} == {("fp1/volume", "L"), ("fp1/amount", "fen")}
    assert len(birth.rows) == 2 and birth.statuses[0].online
    data = d.decode(DEV.format("DDATA"), _ddata(2, 12.34))
    [row] = data.rows
    assert (row.name, row.value, row.quality) == ("fp1/volume", 12.34, "good")
    assert row.ts.timestamp() == pytest.approx(2.002)
    assert not data.wants_rebirth


def test_bad_quality_keeps_its_reason() -> None:
    d = Decoder()
    d.decode(NODE, _nbirth())
    d.decode(DEV.format("DBIRTH"), _dbirth())
    [row] = d.decode(DEV.format("DDATA"), _ddata(2, 0.0, Quality.BAD)).rows
    assert (row.quality, row.reason) == ("bad", "comm-loss")


def test_a_seq_gap_marks_stale_and_wants_rebirth_but_keeps_the_data() -> None:
    d = Decoder()
    d.decode(NODE, _nbirth())
    d.decode(DEV.format("DBIRTH"), _dbirth())
    gap = d.decode(DEV.format("DDATA"), _ddata(5, 1.0))
    assert gap.wants_rebirth and gap.rows
    assert any(s.stale and s.reason == "seq-gap" for s in gap.statuses)


def test_data_without_a_birth_cannot_be_named_and_wants_rebirth() -> None:
    out = Decoder().decode(DEV.format("DDATA"), _ddata(1, 1.0))
    assert out.rows == [] and out.wants_rebirth


@pytest.mark.parametrize(("topic", "raw"), [
    (DEV.format("DDATA"), b"\xff\xfe garbage"),
    ("spBv1.0/g/DDATA/st-01", _ddata(1, 1.0)),
    ("spBv1.0/g/WHAT/st-01/disp-01", _ddata(1, 1.0)),
])
def test_undecodable_messages_are_refused(topic: str, raw: bytes) -> None:
    with pytest.raises(UndecodableMessage):
        Decoder().decode(topic, raw)


def test_node_death_marks_the_node_offline() -> None:
    d = Decoder()
    d.decode(NODE, _nbirth(7))
    out = d.decode(topics.node_topic("g", MessageType.NDEATH, "st-01"), _nbirth(7))
    assert out.statuses[0].online is False and out.statuses[0].stale
