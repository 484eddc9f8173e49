"""An alarm stream's feed (``control_api/live.py``): transitions in order, and a resync when some were lost."""

from __future__ import annotations

from control_api.live import AlarmFeed, LiveHub


def test_transitions_come_in_order_and_once() -> None:
    feed = AlarmFeed()
    assert feed.take() == [] and not feed.ready.is_set()
    feed.push({"alarm_id": "a", "seq": 1})
    feed.push({"alarm_id": "a", "seq": 2})
    assert feed.ready.is_set()
    assert feed.take() == [{"alarm_id": "a", "seq": 1}, {"alarm_id": "a", "seq": 2}]
    assert feed.take() == [] and not feed.ready.is_set()


def test_a_feed_too_far_behind_starts_again_from_a_snapshot() -> None:
    feed = AlarmFeed()
    for seq in range(AlarmFeed.LIMIT + 1):
        feed.push({"alarm_id": "a", "seq": seq})
    assert feed.take() is None                       # some were lost: the stream sends a snapshot instead
    feed.push({"alarm_id": "b", "seq": 1})
    assert feed.take() == [{"alarm_id": "b", "seq": 1}]


def test_the_hub_hands_each_transition_to_every_feed_and_forgets_a_closed_one() -> None:
    hub = LiveHub("postgresql://unused")
    with hub.alarm_feed() as first:
        with hub.alarm_feed() as second:
            assert hub.clients == 2
            hub._dispatch_alarm('{"station": "st-a", "alarm_id": "a", "seq": 1, "type": "alarm.raised"}')
            hub._dispatch_alarm("not json")
            assert first.take() == second.take() == [
                {"station": "st-a", "alarm_id": "a", "seq": 1, "type": "alarm.raised"}]
        hub._dispatch_alarm('{"station": "st-a", "alarm_id": "a", "seq": 2, "type": "alarm.returned"}')
        assert [n["seq"] for n in first.take() or []] == [2] and second.take() == []
    assert hub.clients == 0
