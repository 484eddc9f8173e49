"""Fuelling transactions found in dispenser readings: once per transaction, with a stable id."""

from datetime import UTC, datetime

from edge_nodes.transactions import fuelling_event, last_record
from protocol_adapters.readings import Reading
from telemetry.contracts.quality import Quality

T = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def _fp1(transaction: int, *, volume: float = 20.0, total_after: float = 1020.0,
         quality: Quality = Quality.GOOD) -> dict[str, Reading]:
    values = {"transaction": transaction, "nozzle": 1, "grade": 92, "volume": volume, "amount": 15780,
              "price": 789, "start": 1_772_352_000, "end": 1_772_352_040, "volume_total": total_after,
              "end_reason": 1}
    return {f"fp1/last/{k}": Reading(f"fp1/last/{k}", v, T, quality) for k, v in values.items()}


def test_a_transaction_record_is_one_event_with_totalizers_before_and_after() -> None:
    record = last_record(_fp1(5), 1)
    assert record is not None
    event = fuelling_event("st-01", "disp-01", 1, record)
    assert event.type == "fuelling.completed" and event.subject == "disp-01/fp1/5"
    assert event.data["volume_l"] == "20.00" and event.data["amount_fen"] == 15780     # litres as exact strings
    assert event.data["totalizer_before_l"] == "1000.00" and event.data["totalizer_after_l"] == "1020.00"
    assert event.data["started_at"] == "2026-03-01T08:00:00Z"
    # the id edges made before the upgrade for the same transaction: a repeat across the upgrade is a repeat
    assert event.id == "daf96296-bae0-5469-92c5-3f8e67c2343b"


def test_litres_come_from_the_pumps_centilitres_without_float_error() -> None:
    record = last_record(_fp1(5, volume=0.1 + 0.2, total_after=1000.3), 1)   # 0.30000000000000004 L
    assert record is not None
    data = fuelling_event("st-01", "disp-01", 1, record).data
    assert (data["volume_l"], data["totalizer_before_l"], data["totalizer_after_l"]) == ("0.30", "1000.00", "1000.30")


def test_the_same_transaction_read_again_has_the_same_id() -> None:
    first, again = (fuelling_event("st-01", "disp-01", 1, last_record(_fp1(5), 1) or {}) for _ in range(2))
    assert first.id == again.id
    other = fuelling_event("st-01", "disp-01", 1, last_record(_fp1(6), 1) or {})
    assert other.id != first.id


def test_bad_quality_no_transaction_yet_or_another_side_is_no_record() -> None:
    assert last_record(_fp1(0), 1) is None
    assert last_record(_fp1(5, quality=Quality.BAD), 1) is None
    assert last_record(_fp1(5), 2) is None
