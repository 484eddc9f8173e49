"""The pure rules that name a broken audit row (business_services/audit/model.py: check_row)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from business_services.audit.model import GENESIS, AuditRecord, Link, canonical, chain_hash, check_row

AT = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def record(seq: int, prev: bytes, actor: str = "zhang.san") -> AuditRecord:
    digest = chain_hash(prev, canonical(seq, AT, actor, 7, "10.0.0.1", "demo-01", "price.change", "demo-01/92",
                                        {"price_fen": 800}, {"price_fen": 820}))
    return AuditRecord(seq, AT, actor, 7, "10.0.0.1", "demo-01", "price.change", "demo-01/92", {"price_fen": 800},
                       {"price_fen": 820}, prev, digest)


def chain(n: int) -> list[AuditRecord]:
    out, prev = [], GENESIS
    for seq in range(1, n + 1):
        out.append(record(seq, prev))
        prev = out[-1].hash
    return out


def link(r: AuditRecord) -> Link:
    return Link(r.seq, r.hash)


def test_a_sound_chain_has_no_break() -> None:
    rows = chain(3)
    assert check_row(rows[0], None, None) is None
    assert check_row(rows[1], link(rows[0]), None) is None
    assert check_row(rows[2], link(rows[1]), link(rows[0])) is None


def test_an_edited_field_breaks_its_own_row() -> None:
    rows = chain(2)
    edited = replace(rows[1], after={"price_fen": 1})
    broken = check_row(edited, link(rows[0]), None)
    assert broken is not None and (broken.seq, broken.kind) == (2, "edited") and "before" in broken.reason


def test_a_gap_in_seq_names_the_missing_rows() -> None:
    rows = chain(5)
    broken = check_row(rows[4], link(rows[1]), link(rows[0]))
    assert broken is not None and (broken.seq, broken.kind) == (3, "deleted") and "3–4" in broken.reason
    first_gone = check_row(rows[1], None, None)
    assert first_gone is not None and (first_gone.seq, first_gone.kind) == (1, "deleted")


def test_a_row_slipped_in_is_named_by_the_row_that_links_past_it() -> None:
    rows = chain(3)
    intruder = record(2, rows[0].hash, actor="intruder")          # chained correctly onto row 1
    moved = replace(rows[1], seq=3)                               # the real row 2, renumbered (its hash now lies)
    broken = check_row(moved, link(intruder), link(rows[0]))
    assert broken is not None and (broken.seq, broken.kind) == (2, "inserted")


def test_a_rewrite_with_a_recomputed_hash_names_the_rewritten_row() -> None:
    rows = chain(3)
    rewritten = record(2, rows[0].hash, actor="somebody.else")
    broken = check_row(rows[2], link(rewritten), link(rows[0]))
    assert broken is not None and (broken.seq, broken.kind) == (2, "rewritten")


def test_a_first_row_must_start_from_genesis() -> None:
    forged = record(1, b"\x01" * 32)
    broken = check_row(forged, None, None)
    assert broken is not None and (broken.seq, broken.kind) == (1, "inserted")
