"""Ledger postings per second under contention (issue 18, "Done when" 6): ``python -m benchmarks ledger``.

``WRITERS`` concurrent writers (asyncio tasks, a connection each, production settings: every entry its own
transaction, committed with PostgreSQL's defaults) post ``ENTRIES`` entries of two postings each through
``business_services.ledger.repository.post``:

- **many accounts**: recharges of distinct cards, each writer into its own shift's drawer: no two writers
  ever wait for the same row;
- **one hot account**: stored-value payments from distinct cards, every one crediting the station's
  stored-value clearing account (``clearing:stored_value:<station>``), as every card payment at a station
  does: every writer waits for that one row;

beside, in the same round, a **bare INSERT** of the same rows (an entry and its two postings, one statement,
one transaction per entry) into tables of the same shape without keys, checks, triggers or balances: what
the database allows for these rows. The ``before`` figures are the ledger's earlier write path (three
round trips of ``executemany``: accounts, postings, balances; kept here, ``_post_before``) on the same
schema, measured in the same round; ``one call`` is the new write path (one call of
``business.ledger_post`` per entry) with every account on one row, ``after`` the same with the hot account
striped (``Account.stripes``, migrations/0003_hot_accounts.sql), as the model builds it. Each round is back
to back; ratios compare figures of one round.
Uses ``FORECOURT_DATABASE_URL`` when set, else an embedded PostgreSQL.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import psycopg

from benchmarks.bench_ingest import _database
from benchmarks.figures import Figure
from business_services.ledger import repository
from business_services.ledger.model import Entry, Posting, card_debit_entry, recharge_entry
from telemetry.contracts.events.payments import Method

WRITERS = int(os.environ.get("BENCH_LEDGER_WRITERS", "16"))
ENTRIES = int(os.environ.get("BENCH_LEDGER_ENTRIES", "2400"))
ROUNDS = int(os.environ.get("BENCH_LEDGER_ROUNDS", "3"))
STATION = "demo-01"
NOW = datetime(2026, 12, 5, 8, tzinfo=UTC)
Post = Callable[[psycopg.AsyncConnection, Entry], Awaitable[int | None]]


async def _post_before(conn: psycopg.AsyncConnection, entry: Entry) -> int | None:
    """The ledger's write path before this round of work (commit 84d5103), for the before/after figures."""
    cur = await conn.execute(
        """INSERT INTO business.ledger_entries (idempotency_key, kind, station, reference, memo, occurred_at)
           VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (idempotency_key) DO NOTHING RETURNING id""",
        (entry.idempotency_key, entry.kind, entry.station, entry.reference, entry.memo, entry.occurred_at))
    row = await cur.fetchone()
    if row is None:
        return None
    entry_id = int(row[0])
    postings = sorted(entry.postings, key=lambda p: p.account.code)
    async with conn.cursor() as many:
        await many.executemany(
            """INSERT INTO business.ledger_accounts (code, name, kind, unit, station, may_go_negative)
               VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (code) DO NOTHING""",
            [(p.account.code, p.account.name, p.account.kind.value, p.account.unit.value, p.account.station,
              p.account.may_go_negative) for p in postings])
        await many.executemany(
            "INSERT INTO business.ledger_postings (entry_id, account, amount, unit) VALUES (%s, %s, %s, %s)",
            [(entry_id, p.account.code, p.amount, p.account.unit.value) for p in postings])
        await many.executemany(
            """UPDATE business.ledger_accounts
               SET balance = balance + CASE WHEN kind IN ('asset', 'expense') THEN %s ELSE -%s END
               WHERE code = %s""",
            [(p.amount, p.amount, p.account.code) for p in postings])
    return entry_id


async def _bare(conn: psycopg.AsyncConnection, entry: Entry) -> int | None:
    cur = await conn.execute(
        """WITH e AS (INSERT INTO bench_ledger_entries (idempotency_key, kind, station, reference, memo, occurred_at)
                      VALUES (%s, %s, %s, %s, %s, %s) RETURNING id)
           INSERT INTO bench_ledger_postings (entry_id, account, amount, unit)
           SELECT e.id, a, n, u FROM e, unnest(%s::text[], %s::bigint[], %s::text[]) AS p(a, n, u)
           RETURNING entry_id""",
        (entry.idempotency_key, entry.kind, entry.station, entry.reference, entry.memo, entry.occurred_at,
         [p.account.code for p in entry.postings], [p.amount for p in entry.postings],
         [p.account.unit.value for p in entry.postings]))
    row = await cur.fetchone()
    return None if row is None else int(row[0])


async def _bare_tables(url: str) -> None:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute("""CREATE TABLE bench_ledger_entries (id bigserial, idempotency_key text NOT NULL,
                                  kind text NOT NULL, station text, reference text NOT NULL, memo text NOT NULL,
                                  occurred_at timestamptz NOT NULL, recorded_at timestamptz NOT NULL DEFAULT now())""")
        await conn.execute("""CREATE TABLE bench_ledger_postings (entry_id bigint NOT NULL, account text NOT NULL,
                                  amount bigint NOT NULL, unit text NOT NULL)""")


async def _write(url: str, post: Post, batches: list[list[Entry]]) -> float:
    """Entries per second: each writer posts its batch, one transaction per entry, all writers at once."""
    connections = [await psycopg.AsyncConnection.connect(url, autocommit=True) for _ in batches]

    async def writer(conn: psycopg.AsyncConnection, entries: list[Entry]) -> None:
        for entry in entries:
            async with conn.transaction():
                if await post(conn, entry) is None:
                    raise RuntimeError(f"{entry.idempotency_key} posted twice in a benchmark")

    try:
        started = time.perf_counter()
        await asyncio.gather(*(writer(conn, entries) for conn, entries in zip(connections, batches, strict=True)))
        return sum(len(b) for b in batches) / (time.perf_counter() - started)
    finally:
        for conn in connections:
            await conn.close()


CASES = ("before", "one call", "after")


def _card(round_no: int, case: str, i: int) -> str:
    return f"{round_no}{CASES.index(case) if case in CASES else 9}{i:014d}"


def _one_row(entry: Entry) -> Entry:
    """The entry with every account on one row (no stripes)."""
    return replace(entry, postings=tuple(Posting(replace(p.account, stripes=1), p.amount) for p in entry.postings))


def _recharges(round_no: int, case: str) -> list[list[Entry]]:
    """Many accounts: each writer recharges its own cards into its own shift's drawer."""
    per = ENTRIES // WRITERS
    return [[recharge_entry(f"{round_no}-{case}-C{w}-{i}", _card(round_no, case, w * per + i), 10000, 0,
                            Method.CASH, STATION, f"{STATION}-2026120{round_no}-S{w:05d}{case.replace(' ', '')}", NOW)
             for i in range(per)] for w in range(WRITERS)]


def _payments(round_no: int, case: str) -> list[list[Entry]]:
    """One hot account: each card recharged above pays once; every payment credits the station's clearing."""
    per = ENTRIES // WRITERS
    shape = (lambda e: e) if case == "after" else _one_row
    return [[shape(card_debit_entry(STATION, f"{round_no}-{case}-P{w}-{i}", _card(round_no, case, w * per + i), 3000,
                                    NOW)) for i in range(per)] for w in range(WRITERS)]


@dataclass
class Round:
    load: float
    bare: float = 0.0
    rates: dict[str, float] = field(default_factory=dict)    # "many before", "hot after" …


async def _round(url: str, round_no: int) -> Round:
    result = Round(load=os.getloadavg()[0])
    result.bare = await _write(url, _bare, _recharges(round_no, "bare"))
    for case, post in (("before", _post_before), ("one call", repository.post), ("after", repository.post)):
        result.rates[f"many {case}"] = await _write(url, post, _recharges(round_no, case))
        result.rates[f"hot {case}"] = await _write(url, post, _payments(round_no, case))
    return result


def _figures(rounds: list[Round]) -> list[Figure]:
    def median(key: str) -> float:
        return statistics.median(r.rates[key] for r in rounds)

    bare = statistics.median(r.bare for r in rounds)
    loads = f"load average {min(r.load for r in rounds):.1f}–{max(r.load for r in rounds):.1f}"
    per_round = "; ".join(f"round {i + 1}: bare {r.bare:.0f}, " + ", ".join(f"{k} {v:.0f}" for k, v in r.rates.items())
                          for i, r in enumerate(rounds))
    figures = [Figure("bare INSERT of an entry and its two postings (one transaction each)", bare, "entries/s",
                      note=f"{WRITERS} writers, median of {len(rounds)} rounds; {loads}")]
    for label, key in (("many accounts", "many"), ("one hot account", "hot")):
        for case in CASES:
            ratios = [r.rates[f"{key} {case}"] / r.bare for r in rounds]
            figures.append(Figure(f"ledger post, {label}, {case}", median(f"{key} {case}"), "entries/s", bare,
                                  "bare INSERT",
                                  note=f"{WRITERS} writers; ratio to the same round's bare INSERT: "
                                       + ", ".join(f"{x:.2f}" for x in ratios)))
        figures.append(Figure(f"ledger post, {label}: after / before", median(f"{key} after"), "entries/s",
                              median(f"{key} before"), "before"))
    figures.append(Figure("every round", 0, "", note=per_round))
    return figures


async def run() -> list[Figure]:
    async with AsyncExitStack() as stack:
        url = await _database(stack)
        await _bare_tables(url)
        rounds = [await _round(url, n + 1) for n in range(ROUNDS)]
    return _figures(rounds)
