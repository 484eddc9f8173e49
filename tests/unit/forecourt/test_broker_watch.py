"""Counting the broker's dropped messages from its $SYS reports (pure part)."""

import pytest

from forecourt.broker_watch import new_drops


@pytest.mark.parametrize(("previous", "reported", "added"), [
    (None, 0, 0),          # first report, nothing dropped
    (None, 117_800, 117_800),   # first report: drops since the broker started are news
    (5, 5, 0),
    (5, 9, 4),
    (9, 2, 2),             # the broker restarted: its count began again
])
def test_new_drops(previous: int | None, reported: int, added: int) -> None:
    assert new_drops(previous, reported) == added
