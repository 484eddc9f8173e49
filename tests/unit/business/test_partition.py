"""Partitions of the business consumer: every station belongs to exactly one of N processes, always the same."""

from __future__ import annotations

import pytest

from business_services.partition import Partition

TOPICS = [f"forecourt/v1/demo-co/st-{n:02d}/events/fuelling.completed" for n in range(60)]


@pytest.mark.parametrize("count", [1, 2, 3, 7])
def test_each_station_belongs_to_exactly_one_partition(count: int) -> None:
    partitions = [Partition(i, count) for i in range(1, count + 1)]
    for topic in TOPICS:
        assert sum(p.owns(topic) for p in partitions) == 1, topic
    if count > 1:   # the hash spreads stations: each of a few partitions gets some of 60 stations
        assert all(any(p.owns(t) for t in TOPICS) for p in partitions)


def test_a_station_s_events_of_every_type_go_to_one_partition_and_the_hash_is_stable() -> None:
    first, second = Partition(1, 2), Partition(2, 2)
    owner = first if first.owns(TOPICS[0]) else second
    assert owner.owns(TOPICS[0].replace("fuelling.completed", "fuelling.gap"))
    # CRC-32 of "demo-co/st-00" is 0xff985eeb (odd): fixed across processes and versions, unlike hash()
    assert owner == second


def test_a_topic_without_a_station_goes_to_partition_one() -> None:
    assert Partition(1, 3).owns("not/a/topic")
    assert not Partition(2, 3).owns("not/a/topic")


@pytest.mark.parametrize("text", ["0/2", "3/2", "1", "a/b", "1/0", " 1/2/3", ""])
def test_a_wrong_partition_is_refused_with_what_to_write(text: str) -> None:
    with pytest.raises(ValueError, match="i/N"):
        Partition.parse(text)


def test_each_process_of_several_has_its_own_session_and_one_keeps_the_old_client_id() -> None:
    assert Partition.parse("2/3").client_id("forecourt-business-demo-co") == "forecourt-business-demo-co-2-of-3"
    assert Partition.parse("1/1").client_id("forecourt-business-demo-co") == "forecourt-business-demo-co"
    assert str(Partition.parse(" 2/3 ")) == "2/3"
