"""The store-and-forward queue: durable, two lanes, bounded without ever dropping events."""

from datetime import UTC, datetime
from pathlib import Path

from edge_nodes.outbox import DROPPED, Outbox
from protocol_adapters.readings import Reading
from telemetry.contracts.quality import Quality

T = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def _readings(n: int, value: float = 1.0) -> list[Reading]:
    return [Reading(f"k{i}", value, T, Quality.GOOD if i % 2 else Quality.BAD, "" if i % 2 else "comm-loss")
            for i in range(n)]


async def test_rows_survive_a_reopen_and_round_trip_exactly(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    await box.open()
    await box.put_readings("disp-01", _readings(3, 12.34))
    await box.put_event("forecourt/v1/acme/st/events/fuelling.completed", b'{"id":"e1"}')
    await box.close()

    again = Outbox(tmp_path / "o.sqlite")
    await again.open()
    await again.start_session()
    rows = await again.backlog()
    assert [r.kind for r in rows] == ["telemetry", "event"]
    assert rows[0].readings() == _readings(3, 12.34)
    assert rows[1].body == b'{"id":"e1"}'
    await again.done([r.id for r in rows])
    assert await again.size() == (0, 0)
    await again.close()


async def test_backlog_and_live_lanes_split_at_the_session_start(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    await box.open()
    await box.put_readings("d", _readings(1))
    await box.start_session()
    await box.put_readings("d", _readings(2))
    assert len(await box.backlog()) == 1 and len(await box.live()) == 1
    await box.close()


async def test_when_full_the_oldest_telemetry_goes_and_events_stay(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite", max_bytes=2000)
    await box.open()
    dropped_before = DROPPED._value.get()
    await box.put_event("t/event-1", b"x" * 300)
    for _ in range(40):
        await box.put_readings("d", _readings(2))
    await box.put_event("t/event-2", b"y" * 300)
    _, size = await box.size()
    assert size <= 2000
    await box.start_session()
    kept = await box.backlog(limit=1000)
    assert [r.target for r in kept if r.kind == "event"] == ["t/event-1", "t/event-2"]
    assert DROPPED._value.get() - dropped_before == 40 - (len(kept) - 2)
    newest = max(r.id for r in kept if r.kind == "telemetry")
    assert newest > min(r.id for r in kept if r.kind == "event"), "the newest telemetry is kept, the oldest dropped"
    await box.close()
