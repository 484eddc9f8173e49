"""The ledger's invariants under concurrency (issue 18, "Done when" 1), on real PostgreSQL.

Hypothesis draws a list of operations on a few cards, members and stations — stored-value payments (the
station's payment entry and the card debit in one transaction, as head office posts them), recharges with a
bonus, refunds to the card, transfers between cards, IC purse loads and debits, points awarded, expired,
redeemed, transferred and spent as a tender — plus replays of earlier ones (the same idempotency keys), each
given to one of several workers. Each worker is an asyncio task with its own connection, running its share in
order, some transactions held open a moment so that they overlap the others' on the server. Then:

- every entry balances per unit, and each account's balance is the sum of its postings in its normal
  direction, its history numbered 1‥n with a running balance that adds up;
- no account that may not go negative is below zero, now or at any point of its history; an operation that
  would have overdrawn one was refused whole: none of its entries is in the books;
- the books hold exactly the accepted operations, each once, whatever the interleaving and however often an
  operation was sent: the balances are what those entries move, nothing more;
- replaying every accepted operation again, concurrently, posts nothing: same balances, same row counts.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from business_services.ledger import repository
from business_services.ledger.model import (
    Entry,
    card_credit_entry,
    card_debit_entry,
    card_transfer_entry,
    payment_entry,
    points_award_entry,
    points_expiry_entry,
    points_payment_entry,
    points_redemption_entry,
    points_transfer_entry,
    purse_debit_entry,
    purse_load_entry,
    recharge_entry,
    refund_entry,
)
from telemetry.contracts.events.payments import Allocation, Method, PaymentCaptured, PaymentRefunded

pytestmark = pytest.mark.integration

NOW = datetime(2026, 12, 5, 8, tzinfo=UTC)
STATIONS = ("st-01", "st-02")
CARDS, MEMBERS, WORKERS = 3, 3, 4
RUN = itertools.count(1)          # each example's accounts and documents are its own


@dataclass(frozen=True)
class Names:
    """One example's cards, members and document numbers."""

    run: int

    def card(self, i: int) -> str:
        return f"62258800{self.run:05d}{i:03d}"

    def member(self, i: int) -> str:
        return f"M{self.run:05d}{i:03d}"

    def doc(self, station: str, letter: str, i: int) -> str:
        return f"{station}-{self.run:05d}-{letter}{i:05d}"


Build = Callable[[Names, int], tuple[Entry, ...]]     # (names, the operation's number) → its entries


def shift(station: str) -> str:
    return f"{station}-20261205-S00001"


def captured(n: Names, i: int, station: str, method: Method, fen: int) -> PaymentCaptured:
    return PaymentCaptured(payment_no=n.doc(station, "P", i), station=station, shift_no=shift(station),
                           terminal="pos-1", cashier="c", method=method, amount_fen=fen,
                           allocations=(Allocation(order_no=n.doc(station, "O", i), amount_fen=fen),),
                           captured_at=NOW)


def payment(card: int, station: str, fen: int) -> Build:
    def build(n: Names, i: int) -> tuple[Entry, ...]:
        return (payment_entry(captured(n, i, station, Method.STORED_VALUE, fen)),
                card_debit_entry(station, n.doc(station, "P", i), n.card(card), fen, NOW))
    return build


def refund(card: int, station: str, fen: int) -> Build:
    def build(n: Names, i: int) -> tuple[Entry, ...]:
        refunded = PaymentRefunded(refund_no=n.doc(station, "R", i), payment_no=n.doc(station, "P", i),
                                   station=station, shift_no=shift(station), method=Method.STORED_VALUE,
                                   amount_fen=fen, allocations=(Allocation(order_no=n.doc(station, "O", i),
                                                                           amount_fen=fen),),
                                   reason="退款", refunded_by="m", refunded_at=NOW)
        return refund_entry(refunded), card_credit_entry(station, n.doc(station, "R", i), n.card(card), fen, NOW)
    return build


def recharge(card: int, station: str, paid: int, bonus: int, method: Method) -> Build:
    return lambda n, i: (recharge_entry(n.doc(station, "C", i), n.card(card), paid, bonus, method, station,
                                        shift(station), NOW),)


def transfer(a: int, b: int, fen: int) -> Build:
    return lambda n, i: (card_transfer_entry(f"T{n.run}-{i}", n.card(a), n.card(b), fen, NOW),)


def purse_load(card: int, fen: int) -> Build:
    return lambda n, i: (purse_load_entry(f"L{n.run}-{i}", n.card(card), fen, NOW),)


def purse_debit(card: int, station: str, fen: int) -> Build:
    return lambda n, i: (purse_debit_entry(station, n.doc(station, "I", i), n.card(card), fen, NOW),)


def award(member: int, pts: int) -> Build:
    return lambda n, i: (points_award_entry(f"points.awarded:{n.run}:{i}", n.member(member), pts, NOW, f"O{i}"),)


def expire(member: int, pts: int) -> Build:
    return lambda n, i: (points_expiry_entry(f"points.expired:{n.run}:{i}", n.member(member), pts, NOW, "2026"),)


def redeem(member: int, pts: int) -> Build:
    return lambda n, i: (points_redemption_entry(f"points.redeemed:{n.run}:{i}", n.member(member), pts, NOW,
                                                 f"X{i}"),)


def give(a: int, b: int, pts: int) -> Build:
    return lambda n, i: (points_transfer_entry(f"points.transferred:{n.run}:{i}", n.member(a), n.member(b), pts,
                                               NOW, f"G{i}"),)


def pay_with_points(member: int, station: str, pts: int) -> Build:
    def build(n: Names, i: int) -> tuple[Entry, ...]:
        fen = pts // 10 or 1
        return (payment_entry(captured(n, i, station, Method.POINTS, fen)),
                points_payment_entry(station, n.doc(station, "P", i), n.member(member), pts, fen, NOW))
    return build


card_ = st.integers(0, CARDS - 1)
member_ = st.integers(0, MEMBERS - 1)
station_ = st.sampled_from(STATIONS)
fen_ = st.integers(1, 5000)
points_ = st.integers(1, 500)
two_cards = st.tuples(card_, card_).filter(lambda ab: ab[0] != ab[1])
two_members = st.tuples(member_, member_).filter(lambda ab: ab[0] != ab[1])
RECHARGE = st.builds(recharge, card_, station_, fen_, st.sampled_from([0, 0, 50, 500]),
                     st.sampled_from([Method.CASH, Method.WECHAT]))
AWARD = st.builds(award, member_, points_)
BUILDS: st.SearchStrategy[Build] = st.one_of(      # money and points come in twice as often as each way out
    RECHARGE, RECHARGE, AWARD, AWARD,
    st.builds(payment, card_, station_, fen_),
    st.builds(refund, card_, station_, fen_),
    st.builds(lambda ab, fen: transfer(*ab, fen), two_cards, fen_),
    st.builds(purse_load, card_, fen_),
    st.builds(purse_debit, card_, station_, fen_),
    st.builds(expire, member_, points_),
    st.builds(redeem, member_, points_),
    st.builds(lambda ab, pts: give(*ab, pts), two_members, points_),
    st.builds(pay_with_points, member_, station_, points_),
)


@dataclass(frozen=True)
class Step:
    """One request: the operation it sends (an index into the drawn operations: a replay sends an earlier
    one again), the worker that sends it, and whether it holds its transaction open a moment before commit."""

    operation: int
    worker: int
    linger: bool


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[Build], list[Step]]:
    builds: list[Build] = []
    steps: list[Step] = []
    for _ in range(draw(st.integers(4, 40))):
        worker, linger = draw(st.integers(0, WORKERS - 1)), draw(st.booleans())
        if builds and draw(st.integers(0, 4)) == 0:            # about one request in five is a replay
            steps.append(Step(draw(st.integers(0, len(builds) - 1)), worker, linger))
        else:
            builds.append(draw(BUILDS))
            steps.append(Step(len(builds) - 1, worker, linger))
    return builds, steps


async def send(conn: psycopg.AsyncConnection, entries: tuple[Entry, ...], linger: bool) -> list[int | None] | None:
    """One request in one transaction: the ids (None for a key posted before), or None when it was refused
    because an account would have gone below zero. A deadlock is retried, as the business consumer does."""
    while True:
        try:
            async with conn.transaction():
                ids = [await repository.post(conn, entry) for entry in entries]
                if linger:
                    await asyncio.sleep(0.002)
            return ids
        except psycopg.errors.CheckViolation as exc:
            account = repository.overdrawn_account(exc)               # the floor of an account, nothing else
            assert account is not None and account.startswith(("card:", "purse:", "points:M")), exc
            return None
        except psycopg.errors.DeadlockDetected:
            continue


async def run_steps(url: str, work: list[list[tuple[int, tuple[Entry, ...], bool]]]
                    ) -> list[tuple[int, list[int | None] | None]]:
    """Each worker's requests in order on its own connection, all workers at once."""
    outcomes: list[tuple[int, list[int | None] | None]] = []

    async def worker(mine: list[tuple[int, tuple[Entry, ...], bool]]) -> None:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            for operation, entries, linger in mine:
                outcomes.append((operation, await send(conn, entries, linger)))
                await asyncio.sleep(0)

    await asyncio.gather(*(worker(mine) for mine in work))
    return outcomes


async def books(conn: psycopg.AsyncConnection) -> tuple[dict[str, int], int, int]:
    cur = await conn.execute("SELECT code, balance FROM business.ledger_balances")
    balances = {code: balance for code, balance in await cur.fetchall()}
    entries = await (await conn.execute("SELECT count(*) FROM business.ledger_entries")).fetchone()
    postings = await (await conn.execute("SELECT count(*) FROM business.ledger_postings")).fetchone()
    assert entries is not None and postings is not None
    return balances, entries[0], postings[0]


async def rows(conn: psycopg.AsyncConnection, query: str) -> list[tuple[object, ...]]:
    return list(await (await conn.execute(query)).fetchall())    # type: ignore[arg-type]


async def assert_double_entry_holds(conn: psycopg.AsyncConnection) -> None:
    assert await rows(conn, """SELECT entry_id, unit FROM business.ledger_postings
                               GROUP BY entry_id, unit HAVING sum(amount) <> 0""") == []
    # the balance (the account's row plus its stripes, for a hot account) is the sum of its postings
    assert await rows(conn, """
        SELECT b.code, b.balance, b.postings, s.total, s.n FROM business.ledger_balances b
        LEFT JOIN (SELECT p.account, count(*) AS n,
                          sum(CASE WHEN a.kind IN ('asset', 'expense') THEN p.amount ELSE -p.amount END) AS total
                   FROM business.ledger_postings p JOIN business.ledger_accounts a ON a.code = p.account
                   GROUP BY p.account) s ON s.account = b.code
        WHERE b.balance <> coalesce(s.total, 0) OR b.postings <> coalesce(s.n, 0)""") == []
    # an account on one row: its history numbered 1‥n in the order its balance moved, the running balance adding up
    assert await rows(conn, """
        SELECT account, seq FROM (
            SELECT p.account, p.seq, p.balance_after,
                   row_number() OVER w AS n,
                   sum(CASE WHEN a.kind IN ('asset', 'expense') THEN p.amount ELSE -p.amount END) OVER w AS running
            FROM business.ledger_postings p JOIN business.ledger_accounts a ON a.code = p.account
            WHERE NOT EXISTS (SELECT FROM business.ledger_stripes s WHERE s.account = p.account)
            WINDOW w AS (PARTITION BY p.account ORDER BY p.seq)) h
        WHERE seq IS DISTINCT FROM n OR balance_after IS DISTINCT FROM running""") == []
    # a hot account's postings are on its stripes only; no account with a floor is striped
    assert await rows(conn, """SELECT p.account FROM business.ledger_postings p
                               JOIN business.ledger_stripes s ON s.account = p.account
                               JOIN business.ledger_accounts a ON a.code = p.account
                               WHERE p.seq IS NOT NULL OR NOT a.may_go_negative""") == []
    assert await rows(conn, """SELECT a.code FROM business.ledger_accounts a
                               JOIN business.ledger_postings p ON p.account = a.code
                               WHERE NOT a.may_go_negative AND (a.balance < 0 OR p.balance_after < 0)""") == []


def expected_change(entries: list[Entry]) -> Counter[str]:
    moved: Counter[str] = Counter()
    for entry in entries:
        for p in entry.postings:
            moved[p.account.code] += p.account.balance_change(p.amount)
    return moved


async def check(url: str, builds: list[Build], steps: list[Step]) -> None:
    names = Names(next(RUN))
    operations = [build(names, i) for i, build in enumerate(builds)]
    work: list[list[tuple[int, tuple[Entry, ...], bool]]] = [[] for _ in range(WORKERS)]
    for step in steps:
        work[step.worker].append((step.operation, operations[step.operation], step.linger))
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        for i in range(CARDS):                      # some money and points to spend before the rush
            await repository.post(conn, recharge_entry(f"open-{names.run}-{i}", names.card(i), 6000, 0, Method.CASH,
                                                       STATIONS[0], shift(STATIONS[0]), NOW))
        for i in range(MEMBERS):
            await repository.post(conn, points_award_entry(f"open-{names.run}-{i}", names.member(i), 600, NOW, "开户"))
        before, entries_before, postings_before = await books(conn)

        outcomes = await run_steps(url, work)

        after, entries_after, postings_after = await books(conn)
        await assert_double_entry_holds(conn)
        posted = await rows(conn, "SELECT idempotency_key FROM business.ledger_entries")
        posted_keys = {key for (key,) in posted}
        accepted = sorted({operation for operation, ids in outcomes if ids is not None})
        stripes = await rows(conn, "SELECT count(*) FROM business.ledger_stripes")
        event(f"hot accounts on more than one stripe: {'yes' if stripes[0][0] > 5 else 'no'}")
        event(f"requests refused for want of balance: {'some' if len(accepted) < len(operations) else 'none'}")
        debits = [o for o, entries in enumerate(operations)
                  if any(e.kind in ("card.debited", "points.paid") for e in entries)]
        if debits:
            event(f"card debits or points payments accepted: {'some' if set(debits) & set(accepted) else 'none'}")
        for operation, ids in outcomes:
            keys = {e.idempotency_key for e in operations[operation]}
            if operation in accepted:
                assert keys <= posted_keys
            else:                                               # refused every time it was sent: nothing of it
                assert ids is None and not keys & posted_keys
            assert ids is None or all(ids) or not any(ids)      # a send posts all of its entries or none
        # each accepted operation posted once, whichever of its sends did it
        firsts = Counter(operation for operation, ids in outcomes if ids is not None and any(ids))
        assert all(n == 1 for n in firsts.values()) and set(firsts) == set(accepted)
        accepted_entries = [e for operation in accepted for e in operations[operation]]
        assert entries_after - entries_before == len(accepted_entries)
        assert postings_after - postings_before == sum(len(e.postings) for e in accepted_entries)
        moved = expected_change(accepted_entries)
        assert {code: after[code] - before.get(code, 0) for code in after if after[code] != before.get(code, 0)} \
            == {code: change for code, change in moved.items() if change}

        replayed = await run_steps(url, [[(o, operations[o], False) for o in accepted[w::WORKERS]]
                                         for w in range(WORKERS)])
        assert all(ids is not None and not any(ids) for _, ids in replayed)     # each key: posted before
        assert await books(conn) == (after, entries_after, postings_after)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(scenario=scenarios())
def test_concurrent_movements_keep_every_invariant(database_url: str,
                                                   scenario: tuple[list[Build], list[Step]]) -> None:
    asyncio.run(check(database_url, *scenario))


@pytest.mark.slow
@pytest.mark.timeout(1800)          # about 6 min on 2 busy cores
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(scenario=scenarios())
def test_concurrent_movements_keep_every_invariant_soak(database_url: str,
                                                        scenario: tuple[list[Build], list[Step]]) -> None:
    asyncio.run(check(database_url, *scenario))


async def test_an_overdraft_is_refused_whole_and_names_its_account(database_url: str) -> None:
    n = Names(next(RUN))
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await repository.post(conn, recharge_entry("C1", n.card(0), 1000, 0, Method.CASH, "st-01", shift("st-01"),
                                                   NOW))
        before = await books(conn)
        with pytest.raises(psycopg.errors.CheckViolation) as refused:
            await send_raw(conn, payment(0, "st-01", 1001)(n, 1))
        assert repository.overdrawn_account(refused.value) == f"card:{n.card(0)}"
        assert await books(conn) == before          # neither the station's payment entry nor the card debit
        assert await send(conn, payment(0, "st-01", 1000)(n, 1), linger=False) is not None
        assert (await books(conn))[0][f"card:{n.card(0)}"] == 0


async def send_raw(conn: psycopg.AsyncConnection, entries: tuple[Entry, ...]) -> None:
    async with conn.transaction():
        for entry in entries:
            await repository.post(conn, entry)
