"""Fuelling transactions found in dispenser readings: once per transaction, with a stable id."""

from datetime import UTC, datetime

from edge_nodes.transactions import completed_fuelings
from protocol_adapters.readings import Reading
from telemetry.contracts.quality import Quality

T = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def _fp1(transaction: int, *, volume: float = 20.0, total_after: float = 1020.0,
         quality: Quality = Quality.GOOD) -> dict[str, Reading]:
    values = {"transaction": transaction, "nozzle": 1, "grade": 92, "volume": volume, "amount": 15780,
              "price": 789, "start": 1_772_352_000, "end": 1_772_352_040, "volume_total": total_after,
              "end_reason": 1}
    return {f"fp1/last/{k}": Reading(f"fp1/last/{k}", v, T, quality) for k, v in values.items()}


def test_a_new_transaction_number_is_one_event_with_totalizers_before_and_after() -> None:
    [event] = completed_fuelings("st-01", "disp-01", 1, _fp1(4), _fp1(5))
    assert event.type == "fueling.completed" and event.subject == "disp-01/fp1/5"
    assert event.data["volume_l"] == 20.0 and event.data["amount_fen"] == 15780
    assert event.data["totalizer_before_l"] == 1000.0 and event.data["totalizer_after_l"] == 1020.0
    assert event.data["started_at"] == "2026-03-01T08:00:00+00:00"


def test_the_same_number_again_is_nothing_and_a_repeat_after_restart_has_the_same_id() -> None:
    assert completed_fuelings("st-01", "disp-01", 1, _fp1(5), _fp1(5)) == []
    first = completed_fuelings("st-01", "disp-01", 1, _fp1(4), _fp1(5))[0]
    after_restart = completed_fuelings("st-01", "disp-01", 1, {}, _fp1(5))[0]   # nothing known before
    assert first.id == after_restart.id


def test_bad_quality_or_no_transaction_yet_is_not_an_event() -> None:
    assert completed_fuelings("st-01", "disp-01", 1, {}, _fp1(0)) == []
    assert completed_fuelings("st-01", "disp-01", 1, {}, _fp1(5, quality=Quality.BAD)) == []
