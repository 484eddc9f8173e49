"""The edge's price keeper without a pump: versions, the files on disk, busy → pending, refused → retried with a
new attempt, a restart mid-apply, and the stamping rule (which version a fuelling was sold under)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from edge_nodes.price_book import Held, NozzleBook, retry_after_s, version_at
from edge_nodes.prices import PriceKeeper, nozzles_path, price_commands
from telemetry.contracts.commands import Result
from telemetry.contracts.events import CloudEvent
from telemetry.contracts.prices import REPLACE_PRICE_SET, PriceApplied, PriceSet

T0 = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)
S = timedelta(seconds=1)


# --- the stamping rule --------------------------------------------------------------------------------

HISTORY = [Held(1, 789, T0), Held(2, 802, T0 + 3600 * S)]
WRITE = T0 + 3600 * S


@pytest.mark.parametrize(("started_at", "price", "version"), [
    (T0 - 60 * S, 789, None),             # before any set was held
    (T0 + 60 * S, 789, 1),                # well inside version 1
    (WRITE - 120 * S, 789, 1),            # clearly before the write: the old set
    (WRITE + 120 * S, 802, 2),            # clearly after: the new set
    (WRITE + 120 * S, 789, 2),            # clearly after, whatever the price says (the clock is clear)
    (WRITE - 3 * S, 802, 2),              # close, the pump charged the new price: the new set
    (WRITE + 3 * S, 789, 1),              # close, the pump charged the old price: the old set
    (WRITE + 50 * S, 789, 1),             # a pump clock 50 s fast: its price still tells
    (WRITE - 50 * S, 802, 2),             # … or 50 s slow
    (WRITE + 3 * S, 555, 2),              # close, neither price: the clocks decide (after the write)
    (WRITE - 3 * S, 555, 1),              # close, neither price: the clocks decide (before the write)
    (WRITE, 802, 2),                      # written before the start: new
])
def test_version_at(started_at: datetime, price: int, version: int | None) -> None:
    assert version_at(HISTORY, started_at, price) == version


def test_version_at_same_price_in_both_sets_goes_by_the_clock() -> None:
    same = [Held(1, 789, T0), Held(2, 789, WRITE)]
    assert version_at(same, WRITE - 2 * S, 789) == 1
    assert version_at(same, WRITE + 2 * S, 789) == 2


def test_version_at_with_a_price_back_to_an_older_one() -> None:
    back = [Held(1, 789, T0), Held(2, 802, WRITE), Held(3, 789, WRITE + 30 * S)]
    assert version_at(back, WRITE + 40 * S, 789) == 3          # the newest write whose price it charged
    assert version_at(back, WRITE + 20 * S, 802) == 2
    assert version_at(back, WRITE - 90 * S, 789) == 1


def test_retry_back_off_doubles_up_to_the_most() -> None:
    assert [retry_after_s(a, 5, 60) for a in (1, 2, 3, 4, 5, 9)] == [5, 10, 20, 40, 60, 60]


def test_nozzle_book_round_trips_and_keeps_the_newest() -> None:
    book = NozzleBook(target=3, price_fen=800, state="refused", attempt=2, detail="no")
    for v in range(1, 12):
        book.hold(v, 700 + v, T0 + v * S)
    book.hold(11, 711, T0 + 99 * S)                      # the same version again changes nothing
    assert [h.version for h in book.held] == list(range(4, 12))
    assert NozzleBook.from_json(json.loads(json.dumps(book.to_json()))) == book


# --- the keeper -----------------------------------------------------------------------------------------

class FakePump:
    """One dispenser's price path: per fuelling point busy or idle, per nozzle refusing or not."""

    def __init__(self) -> None:
        self.busy: set[int] = set()
        self.refusing: set[tuple[int, int]] = set()
        self.prices: dict[tuple[int, int], int] = {}
        self.writes = 0

    async def fp_idle(self, fuelling_point: int) -> bool:
        return fuelling_point not in self.busy

    async def write_price(self, fuelling_point: int, nozzle: int, price_fen: int) -> tuple[Result, str]:
        self.writes += 1
        if (fuelling_point, nozzle) in self.refusing:
            return "refused", "the device did not read back the new price"
        self.prices[(fuelling_point, nozzle)] = price_fen
        return "accepted", f"price read back: {price_fen} fen/L"


def price_set(version: int, p92: int, p95: int, station: str = "st-01") -> PriceSet:
    return PriceSet.model_validate({
        "station": station, "version": version, "effective_at": T0.isoformat(), "grades": {"92": p92, "95": p95},
        "nozzles": [{"device": "disp-01", "fuelling_point": fp, "nozzle": 1, "grade": "92", "price_fen": p92}
                    for fp in (1, 2)] + [{"device": "disp-01", "fuelling_point": 1, "nozzle": 2, "grade": "95",
                                          "price_fen": p95}]})


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def keeper(path: Path | None, pump: FakePump, events: list[CloudEvent], clock: Clock | None = None) -> PriceKeeper:
    async def emit(event: CloudEvent) -> None:
        events.append(event)
    k = PriceKeeper("st-01", path, emit, now=lambda: T0, clock=clock or Clock(), retry_first_s=5)
    k.writers = {"disp-01": pump}
    return k


def reports(events: list[CloudEvent]) -> list[tuple[str, int, str, int]]:
    out = []
    for e in events:
        r = PriceApplied.model_validate(e.data)
        assert e.id == r.event_id() and e.type == "price.applied"
        out.append((f"fp{r.fuelling_point}/n{r.nozzle}", r.version, r.state, r.attempt))
    return out


async def test_a_newer_set_is_kept_on_disk_an_older_or_equal_one_ignored(tmp_path: Path) -> None:
    path = tmp_path / "st-01.price-set.json"
    events: list[CloudEvent] = []
    k = keeper(path, FakePump(), events)
    assert await k.offer(price_set(2, 800, 850)) == "applying"
    assert await k.offer(price_set(2, 1, 1)) == "already-held"
    assert await k.offer(price_set(1, 700, 750)) == "older-ignored"
    assert PriceSet.model_validate_json(path.read_bytes()) == price_set(2, 800, 850)
    assert not list(tmp_path.glob("*.tmp"))
    assert PriceKeeper("st-01", path, k._emit).version == 2          # a restarted edge holds it


async def test_idle_nozzles_are_applied_a_busy_one_waits_then_follows(tmp_path: Path) -> None:
    pump, events = FakePump(), []
    k = keeper(tmp_path / "p.json", pump, events)
    pump.busy.add(2)
    await k.offer(price_set(1, 800, 850))
    await k.apply_round()
    assert pump.prices == {(1, 1): 800, (1, 2): 850}                 # fp2 is fuelling: untouched
    assert sorted(reports(events)) == [("fp1/n1", 1, "applied", 1), ("fp1/n2", 1, "applied", 1),
                                       ("fp2/n1", 1, "pending", 1)]
    await k.apply_round()                                            # still busy: nothing new to say
    assert len(events) == 3 and pump.writes == 2
    pump.busy.clear()
    await k.apply_round()
    assert pump.prices[(2, 1)] == 800
    assert reports(events)[3:] == [("fp2/n1", 1, "applied", 1)]
    assert k.price_set_at("disp-01", 2, 1, T0 + 60 * S, 800) == 1


async def test_a_refused_nozzle_is_tried_again_with_back_off_each_try_a_new_attempt(tmp_path: Path) -> None:
    pump, events, clock = FakePump(), [], Clock()
    k = keeper(tmp_path / "p.json", pump, events, clock)
    pump.refusing.add((1, 2))
    await k.offer(price_set(1, 800, 850))
    await k.apply_round()
    assert ("fp1/n2", 1, "refused", 1) in reports(events)
    writes = pump.writes
    clock.t = 4.0
    await k.apply_round()                                            # within the back-off: not tried
    assert pump.writes == writes
    clock.t = 5.0
    await k.apply_round()
    assert reports(events)[-1] == ("fp1/n2", 1, "refused", 2)        # the second try, reported
    clock.t = 5.0 + 9.0
    await k.apply_round()
    assert pump.writes == writes + 1                                 # the next wait is 10 s
    pump.refusing.clear()
    clock.t = 15.0
    await k.apply_round()
    assert reports(events)[-1] == ("fp1/n2", 1, "applied", 3)
    assert k.price_set_at("disp-01", 1, 2, T0 + 60 * S, 850) == 1


async def test_a_restart_mid_apply_resumes_and_repeats_no_report(tmp_path: Path) -> None:
    path = tmp_path / "st-01.price-set.json"
    pump, events = FakePump(), []
    k = keeper(path, pump, events)
    await k.offer(price_set(1, 789, 836))
    await k.apply_round()
    pump.busy.add(1)
    await k.offer(price_set(2, 800, 850))
    await k.apply_round()                  # fp2 applied, fp1's two nozzles pending: then the edge stops
    assert sorted(r for r in reports(events) if r[1] == 2) == [
        ("fp1/n1", 2, "pending", 1), ("fp1/n2", 2, "pending", 1), ("fp2/n1", 2, "applied", 1)]
    assert json.loads(nozzles_path(path).read_bytes())["disp-01/fp2/n1"]["state"] == "applied"

    again: list[CloudEvent] = []
    k2 = keeper(path, pump, again)         # a new process, from the files
    assert k2.version == 2
    await k2.apply_round()
    assert again == []                     # still busy, already reported pending
    pump.busy.clear()
    await k2.apply_round()
    assert reports(again) == [("fp1/n1", 2, "applied", 1), ("fp1/n2", 2, "applied", 1)]
    # the versions each nozzle held survive too: a fuelling read back now is stamped right
    assert k2.price_set_at("disp-01", 2, 1, T0 + 60 * S, 800) == 2
    assert k2.price_set_at("disp-01", 1, 1, T0 - 60 * S, 789) is None


async def test_a_device_without_a_price_path_is_refused_with_a_clear_detail(tmp_path: Path) -> None:
    events: list[CloudEvent] = []
    k = keeper(None, FakePump(), events)
    k.writers = {}
    await k.offer(price_set(1, 800, 850))
    await k.apply_round()
    first = PriceApplied.model_validate(events[0].data)
    assert first.state == "refused" and "disp-01" in first.detail and "price write" in first.detail


async def test_the_command_checks_the_station() -> None:
    events: list[CloudEvent] = []
    k = keeper(None, FakePump(), events)
    command = price_commands("st-01", k)[("", REPLACE_PRICE_SET)]
    assert (await command.run(price_set(1, 800, 850, station="st-02")))[0] == "bad-argument"
    result, detail = await command.run(price_set(1, 800, 850))
    assert result == "accepted" and "version 1" in detail and k.version == 1



async def test_a_crash_between_the_set_file_and_the_nozzle_file_still_applies_the_new_set(tmp_path: Path) -> None:
    path = tmp_path / "st-01.price-set.json"
    pump, events = FakePump(), []
    k = keeper(path, pump, events)
    await k.offer(price_set(1, 789, 836))
    await k.apply_round()
    path.write_bytes(price_set(2, 800, 850).model_dump_json().encode())    # the set written, the books not
    again: list[CloudEvent] = []
    k2 = keeper(path, pump, again)
    await k2.apply_round()
    assert sorted(reports(again)) == [("fp1/n1", 2, "applied", 1), ("fp1/n2", 2, "applied", 1),
                                      ("fp2/n1", 2, "applied", 1)]
    assert pump.prices == {(1, 1): 800, (1, 2): 850, (2, 1): 800}
