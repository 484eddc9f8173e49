import pytest

from telemetry.contracts import topics
from telemetry.contracts.commands import SET_PRICE, command_topic, commands_filter
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


def test_event_and_command_topics_carry_the_group() -> None:
    event = topics.event_topic("acme", "st-01", "fuelling.completed")
    assert event == "forecourt/v1/acme/st-01/events/fuelling.completed"
    assert command_topic("acme", "st-01", SET_PRICE) == "forecourt/v1/acme/st-01/commands/command.set_price"
    assert commands_filter("acme", "st-01") == "forecourt/v1/acme/st-01/commands/#"
    assert topics.events_filter() == "forecourt/v1/+/+/events/#"
    parsed = topics.parse_event_topic("forecourt/v1/acme/st-01/events/fuelling.completed")
    assert (parsed.group, parsed.station, parsed.direction, parsed.type) == ("acme", "st-01", "events",
                                                                             "fuelling.completed")
    assert topics.parse_event_topic(command_topic("acme", "st-01", SET_PRICE)).direction == "commands"


@pytest.mark.parametrize("bad", [
    "forecourt/v1/st-01/events/fuelling.completed",              # no group: the old layout
    "forecourt/v1/acme/st-01/events/fuelling.completed/extra",
    "forecourt/v1/acme/st-01/alarms/alarm.raised",
    "forecourt/v1/acme/ST-01/events/fuelling.completed",          # not a station code
    "forecourt/v1/ac me/st-01/events/fuelling.completed",
    "forecourt/v1/acme/st-01/events/fuelling",                    # a type is context.verb
    "forecourt/v1/acme/st-01/events/" + "a." * 40 + "b",
    "forecourt/v2/acme/st-01/events/fuelling.completed",
])
def test_malformed_event_topics_are_rejected(bad: str) -> None:
    with pytest.raises(TopicError):
        topics.parse_event_topic(bad)
