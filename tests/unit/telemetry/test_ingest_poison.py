"""Poison messages on every Sparkplug topic family are refused with a reason, before they touch the session."""

import pytest

from telemetry.contracts import topics
from telemetry.contracts.sparkplug import DataType, Metric, Payload, encode
from telemetry.contracts.topics import MessageType
from telemetry.ingest.decoder import Decoder, UndecodableMessage
from telemetry.ingest.limits import Limits
from tests.support.poison import POISON

FAMILIES = [MessageType.NBIRTH, MessageType.NDATA, MessageType.NDEATH, MessageType.NCMD,
            MessageType.DBIRTH, MessageType.DDATA, MessageType.DDEATH, MessageType.DCMD]


def _topic(mtype: MessageType) -> str:
    if mtype in topics.DEVICE_TYPES:
        return topics.device_topic("g", mtype, "st-01", "disp-01")
    return topics.node_topic("g", mtype, "st-01")


def _born() -> Decoder:
    d = Decoder()
    d.decode(_topic(MessageType.NBIRTH), encode(Payload(1000, 0, (Metric("bdSeq", 1, 1000, DataType.INT64, 3),))))
    d.decode(_topic(MessageType.DBIRTH), encode(Payload(1000, 1, (Metric("fp1/volume", 10, 1000, DataType.DOUBLE,
                                                                         0.0),))))
    return d


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.value)
@pytest.mark.parametrize("poison", list(POISON), ids=list(POISON))
def test_poison_is_refused_with_its_reason_and_the_next_message_is_taken(family: MessageType, poison: str) -> None:
    raw, reason = POISON[poison]
    d = _born()
    with pytest.raises(UndecodableMessage, match=reason):
        d.decode(_topic(family), raw)
    after = d.decode(_topic(MessageType.DDATA), encode(Payload(2000, 2, (Metric(None, 10, 2000, DataType.DOUBLE,
                                                                                12.5),))))
    assert [(r.name, r.value) for r in after.rows] == [("fp1/volume", 12.5)]
    assert not after.wants_rebirth, "the poison left the session as it was (no seq consumed, node not dead)"


@pytest.mark.parametrize("topic", [
    f"spBv1.0/g/DDATA/st-01/{'d' * 10_000}",      # device id over the code rule
    "spBv1.0/g/NBIRTH/ST 01",                     # not a code
    "spBv1.0/g+x/NBIRTH/st-01",                   # not a group
])
def test_identifiers_in_the_topic_follow_their_rule(topic: str) -> None:
    with pytest.raises(UndecodableMessage):
        Decoder().decode(topic, encode(Payload(1000, 0)))


def test_limits_can_be_set_and_values_at_the_limits_pass() -> None:
    limits = Limits(metric_name_chars=4, text_chars=3)
    limits.check(Payload(0, 0, (Metric("abcd", 1, 7_258_118_399_999, DataType.STRING, "abc"),)))
    with pytest.raises(ValueError, match="name of 5 characters"):
        limits.check(Payload(0, 0, (Metric("abcde", 1, 0, DataType.DOUBLE, 1.0),)))
    with pytest.raises(ValueError, match="string of 4 characters"):
        limits.check(Payload(0, 0, (Metric("a", 1, 0, DataType.STRING, "abcd"),)))
