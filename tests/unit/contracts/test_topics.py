import pytest

from telemetry.contracts import topics
from telemetry.contracts.topics import MessageType, TopicError


def test_format_and_parse_round_trip() -> None:
    t = topics.device_topic("acme", MessageType.DDATA, "st-01", "disp-01")
    assert t == "spBv1.0/acme/DDATA/st-01/disp-01"
    parsed = topics.parse(t)
    assert (parsed.group, parsed.message_type, parsed.edge_node, parsed.device) == (
        "acme", MessageType.DDATA, "st-01", "disp-01")
    assert topics.parse("spBv1.0/acme/NBIRTH/st-01").device is None


@pytest.mark.parametrize("bad", [
    "spBv1.0/acme/DDATA/st-01",          # device message without a device
    "spBv1.0/acme/NDATA/st-01/disp-01",  # node message with a device
    "spBv1.0/acme/XDATA/st-01",
    "spBv1.0/STATE/host",
    "other/acme/NBIRTH/st-01",
    "spBv1.0//NBIRTH/st-01",
])
def test_malformed_topics_are_rejected(bad: str) -> None:
    with pytest.raises(TopicError):
        topics.parse(bad)


def test_shared_subscription_and_filters() -> None:
    assert topics.shared(topics.group_filter("acme"), "ingest") == "$share/ingest/spBv1.0/acme/#"
    assert topics.state_topic("forecourt") == "spBv1.0/STATE/forecourt"
