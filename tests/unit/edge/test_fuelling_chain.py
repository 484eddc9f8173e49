"""A nozzle's totalizer chain: unbroken, broken (a gap with its litres and missing numbers), replayed, gone back."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from edge_nodes.transactions import NozzleMark, SideBook, gap_event
from telemetry.contracts.events.fuelling import FUELLING_GAP, FuellingGap

T = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def _record(number: int, before_l: float, volume_l: float, nozzle: int = 1) -> dict[str, object]:
    return {"transaction": number, "nozzle": nozzle, "grade": 92, "volume": volume_l,
            "volume_total": round(before_l + volume_l, 2)}


def _walk(book: SideBook, *records: dict[str, object]) -> list[tuple[FuellingGap | None, str | None]]:
    return [book.account("st-01", "disp-01", 1, r, T) for r in records]


def test_an_unbroken_chain_has_no_gap() -> None:
    book = SideBook()
    assert _walk(book, _record(1, 1000.0, 20.0), _record(2, 1020.0, 3.5), _record(3, 1023.5, 0.01)) == [
        (None, None)] * 3
    assert book.nozzles[1] == NozzleMark(102351, 3)


def test_a_break_is_a_gap_of_the_totalizer_difference_with_the_missing_numbers_between() -> None:
    book = SideBook(missing=[2, 3, 9])
    _walk(book, _record(1, 1000.0, 20.0))
    [(gap, problem)] = _walk(book, _record(4, 1057.25, 10.0))
    assert problem is None and gap is not None
    assert (gap.totalizer_from_l, gap.totalizer_to_l, gap.volume_l) == (Decimal("1020"), Decimal("1057.25"),
                                                                        Decimal("37.25"))
    assert gap.missing_transactions == (2, 3) and book.missing == [9]
    assert (gap.station, gap.pump, gap.fuelling_point, gap.nozzle, gap.grade) == ("st-01", "disp-01", 1, 1, 92)


def test_each_nozzle_has_its_own_chain() -> None:
    book = SideBook()
    results = _walk(book, _record(1, 1000.0, 20.0, nozzle=1), _record(2, 500.0, 5.0, nozzle=2),
                    _record(3, 1020.0, 1.0, nozzle=1), _record(4, 505.0, 2.0, nozzle=2))
    assert results == [(None, None)] * 4


def test_a_transaction_read_again_after_a_restart_changes_nothing() -> None:
    book = SideBook()
    _walk(book, _record(1, 1000.0, 20.0), _record(2, 1020.0, 5.0))
    assert _walk(book, _record(1, 1000.0, 20.0), _record(2, 1020.0, 5.0)) == [(None, None)] * 2
    assert book.nozzles[1] == NozzleMark(102500, 2)


@pytest.mark.parametrize(("second", "problem"), [
    (_record(2, 10.0, 5.0), "went back"),               # a new meter board: the chain restarts
    (_record(2, 1015.0, 10.0), "inside the previous"),  # overlaps the previous fuelling
])
def test_a_chain_that_does_not_fit_is_a_problem_not_a_gap(second: dict[str, object], problem: str) -> None:
    book = SideBook()
    _walk(book, _record(1, 1000.0, 20.0))
    [(gap, found)] = _walk(book, second)
    assert gap is None and found is not None and problem in found
    assert book.nozzles[1].transaction == 2


def test_the_book_survives_a_restart_as_json() -> None:
    book = SideBook(seen=7, nozzles={1: NozzleMark(102000, 7), 2: NozzleMark(5, 3)}, missing=[4, 5])
    assert SideBook.from_json(book.to_json()) == book


def test_a_gap_event_has_a_stable_id_and_the_typed_payload() -> None:
    book = SideBook(missing=[2])
    _walk(book, _record(1, 1000.0, 20.0))
    [(gap, _)] = _walk(book, _record(3, 1030.0, 1.0))
    assert gap is not None
    event = gap_event(gap)
    later = gap_event(gap.model_copy(update={"detected_at": datetime(2026, 3, 2, tzinfo=UTC)}))
    assert event.type == FUELLING_GAP and event.id == later.id
    assert FuellingGap.model_validate(event.data) == gap


def test_an_idle_nozzle_without_a_chain_starts_one_at_its_totalizer() -> None:
    book = SideBook(seen=4)
    assert book.account_idle("st-01", "disp-01", 1, 2, 95, 50_000, T) == (None, True)
    assert book.nozzles[2] == NozzleMark(50_000, 4)
    assert book.account_idle("st-01", "disp-01", 1, 2, 95, 50_000, T) == (None, False)


def test_an_idle_totalizer_beyond_the_chain_is_a_gap_claiming_the_missing_numbers_after_it() -> None:
    book = SideBook(seen=7, nozzles={2: NozzleMark(50_000, 1)}, missing=[2, 3])
    gap, changed = book.account_idle("st-01", "disp-01", 1, 2, 95, 51_234, T)
    assert changed and gap is not None
    assert (gap.nozzle, gap.grade, gap.volume_l, gap.missing_transactions) == (2, 95, Decimal("12.34"), (2, 3))
    assert book.nozzles[2] == NozzleMark(51_234, 1) and book.missing == []
    [(after, problem)] = _walk(book, _record(8, 512.34, 5.0, nozzle=2))   # the next sale carries on from there
    assert after is None and problem is None
