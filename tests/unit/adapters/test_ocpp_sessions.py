"""Transaction ledger: repeated 1.6 starts/stops and 2.0.1 seqNos never make a second session."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from protocol_adapters.ocpp.codec import MeterSample
from protocol_adapters.ocpp.sessions import ChargingSession, TransactionLedger

T0 = datetime(2026, 1, 1, 8, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_16_start_repeated_gets_the_same_id_and_new_starts_new_ids() -> None:
    ledger = TransactionLedger(first_id=1001)
    tx, new = ledger.start_16("chg-01", 1, "RFID0001", 125_000, at(0))
    again, new_again = ledger.start_16("chg-01", 1, "RFID0001", 125_000, at(0))
    assert (tx.transaction_id, new) == ("1001", True)
    assert (again is tx, new_again) == (True, False)
    other_connector, _ = ledger.start_16("chg-01", 2, "RFID0002", 0, at(0))
    other_charger, _ = ledger.start_16("chg-02", 1, "RFID0001", 125_000, at(0))
    later, _ = ledger.start_16("chg-01", 1, "RFID0001", 125_000, at(1))
    ids = [t.transaction_id for t in (tx, other_connector, other_charger, later)]
    assert len(set(ids)) == 4


def test_16_stop_gives_one_session_and_a_repeat_after_finish_is_a_duplicate() -> None:
    ledger = TransactionLedger(first_id=7)
    ledger.start_16("chg-01", 2, "RFID0001", 125_000, at(0))
    outcome = ledger.stop_16("chg-01", 7, 132_300, at(3600), "EVDisconnected")
    assert outcome.session == ChargingSession("chg-01", 2, "7", "RFID0001", at(0), at(3600), 125_000, 132_300,
                                              7.3, "EVDisconnected")
    # not yet handed over (e.g. the callback failed): the charger's retry gets the same session again
    assert ledger.stop_16("chg-01", 7, 132_300, at(3600), "EVDisconnected").session == outcome.session
    ledger.finish(outcome.session)
    repeat = ledger.stop_16("chg-01", 7, 132_300, at(3600), "EVDisconnected")
    assert repeat.duplicate and repeat.session is None
    assert ledger.open_transactions("chg-01") == []
    tx, _ = ledger.start_16("chg-01", 2, "RFID0001", 132_300, at(4000))
    assert tx.transaction_id == "8"


def test_16_unknown_stop_is_an_orphan() -> None:
    outcome = TransactionLedger().stop_16("chg-01", 99, 1, at(0), "Local")
    assert outcome.orphan and outcome.session is None and not outcome.duplicate


def test_energy_is_never_negative() -> None:
    ledger = TransactionLedger()
    ledger.start_16("chg-01", 1, "A", 5_000, at(0))
    session = ledger.stop_16("chg-01", 1, 1_000, at(1), "Other").session   # meter replaced mid-session
    assert session is not None and session.energy_kwh == 0.0 and session.meter_stop_wh == 1_000


def sample(seconds: float, energy_wh: float, context: str = "Sample.Periodic") -> MeterSample:
    return MeterSample(at(seconds), energy_wh=energy_wh, context=context)


def test_201_events_by_seq_no_and_one_session_at_the_end() -> None:
    ledger = TransactionLedger()
    started = ledger.event_201("chg-02", event_type="Started", seq_no=0, transaction_id="tx-a", timestamp=at(0),
                               connector=2, id_tag="RFID0001", samples=[sample(0, 2_000_000, "Transaction.Begin")])
    assert started.transaction is not None and not started.duplicate
    assert (started.transaction.connector, started.transaction.meter_start_wh) == (2, 2_000_000)
    update = ledger.event_201("chg-02", event_type="Updated", seq_no=1, transaction_id="tx-a", timestamp=at(60),
                              samples=[sample(60, 2_001_500)])
    assert not update.duplicate
    repeat = ledger.event_201("chg-02", event_type="Updated", seq_no=1, transaction_id="tx-a", timestamp=at(60),
                              samples=[sample(60, 2_001_500)])
    assert repeat.duplicate and repeat.session is None
    ended = ledger.event_201("chg-02", event_type="Ended", seq_no=2, transaction_id="tx-a", timestamp=at(120),
                             samples=[sample(120, 2_003_000, "Transaction.End")], stopped_reason="EVDisconnected")
    assert ended.session == ChargingSession("chg-02", 2, "tx-a", "RFID0001", at(0), at(120), 2_000_000, 2_003_000,
                                            3.0, "EVDisconnected")
    ledger.finish(ended.session)
    again = ledger.event_201("chg-02", event_type="Ended", seq_no=2, transaction_id="tx-a", timestamp=at(120),
                             samples=[sample(120, 2_003_000, "Transaction.End")], stopped_reason="EVDisconnected")
    assert again.duplicate and again.session is None


def test_201_ended_without_readings_uses_the_last_seen_and_defaults_reason_local() -> None:
    ledger = TransactionLedger()
    ledger.event_201("chg-02", event_type="Started", seq_no=0, transaction_id="tx-b", timestamp=at(0), connector=1)
    ledger.event_201("chg-02", event_type="Updated", seq_no=1, transaction_id="tx-b", timestamp=at(5),
                     id_tag="LATECARD", samples=[sample(5, 100)])
    ledger.event_201("chg-02", event_type="Updated", seq_no=2, transaction_id="tx-b", timestamp=at(10),
                     samples=[sample(10, 600)])
    ended = ledger.event_201("chg-02", event_type="Ended", seq_no=3, transaction_id="tx-b", timestamp=at(15))
    assert ended.session is not None
    assert (ended.session.meter_start_wh, ended.session.meter_stop_wh, ended.session.energy_kwh) == (100, 600, 0.5)
    assert (ended.session.id_tag, ended.session.stop_reason) == ("LATECARD", "Local")


def test_201_ended_is_not_booked_until_finished() -> None:
    ledger = TransactionLedger()
    ledger.event_201("chg-02", event_type="Started", seq_no=0, transaction_id="tx-c", timestamp=at(0), connector=1,
                     samples=[sample(0, 0, "Transaction.Begin")])
    first = ledger.event_201("chg-02", event_type="Ended", seq_no=1, transaction_id="tx-c", timestamp=at(9),
                             samples=[sample(9, 900)])
    retry = ledger.event_201("chg-02", event_type="Ended", seq_no=1, transaction_id="tx-c", timestamp=at(9),
                             samples=[sample(9, 900)])
    assert first.session is not None and retry.session == first.session and not retry.duplicate


def test_201_events_of_a_transaction_never_seen_starting_are_orphans() -> None:
    ledger = TransactionLedger()
    outcome = ledger.event_201("chg-02", event_type="Updated", seq_no=4, transaction_id="tx-x", timestamp=at(0))
    assert outcome.orphan and outcome.transaction is None
    assert ledger.event_201("chg-02", event_type="Ended", seq_no=5, transaction_id="tx-x", timestamp=at(1)).orphan


def test_the_same_transaction_id_on_two_chargers_is_two_transactions() -> None:
    ledger = TransactionLedger()
    for cp in ("chg-01", "chg-02"):
        ledger.event_201(cp, event_type="Started", seq_no=0, transaction_id="same", timestamp=at(0), connector=1)
    assert len(ledger.open_transactions("chg-01")) == len(ledger.open_transactions("chg-02")) == 1


def test_finished_memory_is_bounded() -> None:
    ledger = TransactionLedger(remember=2)
    for n in range(1, 4):
        ledger.start_16("chg-01", 1, "A", n, at(n))
        session = ledger.stop_16("chg-01", n, n + 1, at(n + 0.5), "Local").session
        assert session is not None
        ledger.finish(session)
    assert not ledger.is_finished("chg-01", "1") and ledger.is_finished("chg-01", "3")
