"""The pure rules of fleet settlement (business_services/fleets/settlement_model.py): periods and numbers, what a
transfer pays, ageing, dunning levels, bank amounts and the bank link's signature."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from business_services.cards.model import CHINA
from business_services.fleets.settlement_model import (
    OpenStatement,
    SettlementError,
    ageing_bucket,
    bank_signature,
    cut_instant,
    due_on,
    dunning_level,
    fen_of,
    last_cut,
    match,
    memo_statements,
    previous_cut,
    signature_valid,
    statement_no,
)
from simulators.bank.server import sign


def test_the_cut_is_statement_day_china_time_this_month_or_last() -> None:
    assert last_cut(5, datetime(2026, 12, 5, 0, 0, tzinfo=CHINA)) == date(2026, 12, 5)
    assert last_cut(5, datetime(2026, 12, 4, 23, 59, tzinfo=CHINA)) == date(2026, 11, 5)
    # 2026-12-04 16:30 UTC is already the 5th in China
    assert last_cut(5, datetime.fromisoformat("2026-12-04T16:30:00+00:00")) == date(2026, 12, 5)
    assert last_cut(28, datetime(2027, 1, 3, tzinfo=CHINA)) == date(2026, 12, 28)
    assert last_cut(1, datetime(2027, 1, 1, tzinfo=CHINA)) == date(2027, 1, 1)
    assert previous_cut(date(2027, 3, 28)) == date(2027, 2, 28)
    assert cut_instant(date(2026, 12, 1)).isoformat() == "2026-12-01T00:00:00+08:00"
    assert statement_no("E000123", date(2026, 12, 1)) == "FS000123-20261201"
    assert due_on(date(2026, 12, 1), 30) == date(2026, 12, 31)


def test_the_memo_names_statements_in_order_once_each() -> None:
    assert memo_statements("油款 fs000123-20261201，FS000123-20261101 FS000123-20261201") == [
        "FS000123-20261201", "FS000123-20261101"]
    assert memo_statements("十二月油款") == []


def _open(no: str, owed: int, enterprise: str = "E000123") -> OpenStatement:
    return OpenStatement(no, enterprise, owed)


def test_a_transfer_pays_the_named_statements_first_then_by_payer_and_exact_amount() -> None:
    a, b = _open("FS000123-20261101", 30_000), _open("FS000123-20261201", 50_000)
    paid = match(None, 60_000, [a, b], [])
    assert [(m.statement_no, m.amount_fen, m.how) for m in paid] == [(a.statement_no, 30_000, "memo"),
                                                                    (b.statement_no, 30_000, "memo")]
    assert [m.amount_fen for m in match(None, 100_000, [a, b], [])] == [30_000, 50_000]   # 20 000 left over
    assert [(m.statement_no, m.how) for m in match("E000123", 50_000, [], [a, b])] == [(b.statement_no, "payer")]
    assert match("E000123", 40_000, [], [a, b]) == []                        # no exact amount: a person decides
    assert match("E000123", 30_000, [], [a, _open("FS000123-20261001", 30_000)]) == []   # two fit: ambiguous
    assert match(None, 30_000, [], [a]) == []                                 # an unknown payer


@pytest.mark.parametrize(("today", "bucket"), [(date(2026, 12, 10), "0-30"), (date(2026, 12, 31), "0-30"),
                                               (date(2027, 1, 1), "31-60"), (date(2027, 1, 30), "31-60"),
                                               (date(2027, 1, 31), "61-90"), (date(2027, 3, 2), ">90")])
def test_ageing_by_days_past_due(today: date, bucket: str) -> None:
    assert ageing_bucket(date(2026, 12, 1), today) == bucket


def test_dunning_levels_at_1_15_and_30_days_overdue_each_once() -> None:
    due = date(2026, 12, 1)
    assert dunning_level(due, date(2026, 12, 1), 0) is None
    assert dunning_level(due, date(2026, 12, 2), 0) == 1
    assert dunning_level(due, date(2026, 12, 2), 1) is None
    assert dunning_level(due, date(2026, 12, 16), 1) == 2
    assert dunning_level(due, date(2027, 1, 31), 1) == 3                           # missed days: the level reached
    assert dunning_level(due, date(2027, 6, 1), 3) is None


def test_bank_amounts_in_yuan_become_fen_exactly() -> None:
    assert fen_of("1234.56") == 123456 and fen_of("0.01") == 1 and fen_of("100") == 10000
    for bad in ("1.234", "-5.00", "0", "abc", "NaN", "Infinity", ""):
        with pytest.raises(SettlementError):
            fen_of(bad)


def test_our_signature_check_agrees_with_the_banks_signing() -> None:
    body = b'{"record": 1}'
    signature = sign("s3cret", "1764900000", "abc", body)          # the simulator's own implementation
    assert bank_signature("s3cret", "1764900000", "abc", body) == signature
    assert signature_valid("s3cret", "1764900000", "abc", body, signature, now=1764900100)
    assert not signature_valid("s3cret", "1764900000", "abc", body + b" ", signature, now=1764900100)
    assert not signature_valid("other", "1764900000", "abc", body, signature, now=1764900100)
    assert not signature_valid("s3cret", "1764900000", "abd", body, signature, now=1764900100)
    assert not signature_valid("s3cret", "1764900000", "abc", body, signature, now=1764900000 + 301)   # stale
    assert not signature_valid("s3cret", "x", "abc", body, signature, now=1764900000)
