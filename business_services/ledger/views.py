"""Read queries of the ledger: accounts with balances, an account's statement, the trial balance."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import psycopg
from psycopg.rows import dict_row

from business_services.ledger.model import CUSTOMER_CODE
from business_services.pages import After, Sort, keyset_page

BY_CODE = Sort("code", str, tiebreak="code", tiebreak_kind=str)
# an account's postings in the order its balance moved (seq: 1, 2, 3 … per account; migrations/0002)
NEWEST_FIRST = Sort("seq", int, descending=True, tiebreak="seq")
OLDEST_FIRST = Sort("seq", int, tiebreak="seq")
ORDERS: dict[str, Sort] = {"newest": NEWEST_FIRST, "oldest": OLDEST_FIRST}


async def accounts(conn: psycopg.AsyncConnection, *, stations: frozenset[str] | None, station: str | None,
                   kind: str | None, prefix: str | None, after: After | None,
                   limit: int) -> tuple[list[dict[str, Any]], int, After | None]:
    """The company's accounts in code order (keyset pages); customers' accounts (cards, IC purses, members'
    points) are read one by one (``statement``). ``stations``: the caller's scope (None: all, including
    company-wide accounts; a scoped caller sees only its stations' accounts)."""
    query = """SELECT code, name, kind, unit, station, balance, may_go_negative, opened_at
               FROM business.ledger_accounts
               WHERE (%(all)s OR station = ANY(%(scope)s))
                 AND (%(station)s::text IS NULL OR station = %(station)s)
                 AND (%(kind)s::text IS NULL OR kind = %(kind)s)
                 AND (%(prefix)s::text IS NULL OR code LIKE %(prefix)s || '%%')
                 AND code !~ %(customers)s"""
    params = {"all": stations is None, "scope": sorted(stations or ()), "station": station, "kind": kind,
              "prefix": prefix, "customers": CUSTOMER_CODE}
    return await keyset_page(conn, query, params, BY_CODE, limit, after)


async def account(conn: psycopg.AsyncConnection, code: str) -> dict[str, Any] | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("""SELECT code, name, kind, unit, station, balance, may_go_negative, opened_at
                             FROM business.ledger_accounts WHERE code = %s""", (code,))
        return await cur.fetchone()


async def statement(conn: psycopg.AsyncConnection, code: str, *, since: datetime | None = None,
                    until: datetime | None = None, order: Literal["newest", "oldest"] = "newest",
                    after: After | None = None, limit: int = 50) -> tuple[list[dict[str, Any]], int, After | None]:
    """The account's postings posted in ``[since, until)`` (either open), in the order its balance moved,
    newest or oldest first (keyset pages on ``seq``), each with the balance right after it
    (``balance_after``: the running balance). Debit > 0, credit < 0."""
    query = """SELECT p.seq, p.amount, p.balance_after, p.posted_at, e.id AS entry_id, e.kind, e.reference,
                      e.memo, e.station, e.occurred_at, e.recorded_at
               FROM business.ledger_postings p JOIN business.ledger_entries e ON e.id = p.entry_id
               WHERE p.account = %(code)s AND p.seq IS NOT NULL
                 AND (%(since)s::timestamptz IS NULL OR p.posted_at >= %(since)s)
                 AND (%(until)s::timestamptz IS NULL OR p.posted_at < %(until)s)"""
    return await keyset_page(conn, query, {"code": code, "since": since, "until": until}, ORDERS[order], limit,
                             after)


async def balance_at(conn: psycopg.AsyncConnection, code: str, at: datetime | None) -> int:
    """The account's balance just before ``at`` (None: now): the last posting's balance after it."""
    if at is None:
        cur = await conn.execute("SELECT balance FROM business.ledger_accounts WHERE code = %s", (code,))
    else:
        cur = await conn.execute("""SELECT balance_after FROM business.ledger_postings
                                    WHERE account = %s AND seq IS NOT NULL AND posted_at < %s
                                    ORDER BY seq DESC LIMIT 1""", (code, at))
    row = await cur.fetchone()
    return 0 if row is None else int(row[0])


async def period(conn: psycopg.AsyncConnection, code: str, *, since: datetime | None,
                 until: datetime | None) -> dict[str, int]:
    """Opening and closing balance of ``[since, until)`` and its debits and credits (both ≥ 0): closing =
    opening + the movement in the account's normal direction."""
    cur = await conn.execute(
        """SELECT coalesce(sum(amount) FILTER (WHERE amount > 0), 0)::bigint,
                  coalesce(-sum(amount) FILTER (WHERE amount < 0), 0)::bigint
           FROM business.ledger_postings
           WHERE account = %(code)s AND seq IS NOT NULL
             AND (%(since)s::timestamptz IS NULL OR posted_at >= %(since)s)
             AND (%(until)s::timestamptz IS NULL OR posted_at < %(until)s)""",
        {"code": code, "since": since, "until": until})
    debits, credits = await cur.fetchone() or (0, 0)
    return {"opening": 0 if since is None else await balance_at(conn, code, since),
            "closing": await balance_at(conn, code, until), "debits": int(debits), "credits": int(credits)}


async def trial_balance(conn: psycopg.AsyncConnection) -> list[dict[str, Any]]:
    """Per unit and kind: the sum of balances, and per unit the debits less credits of every posting (which
    double entry keeps at zero)."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            """SELECT a.unit, a.kind, sum(a.balance)::bigint AS balance, count(*) AS accounts
               FROM business.ledger_accounts a GROUP BY a.unit, a.kind ORDER BY a.unit, a.kind""")
        by_kind = await cur.fetchall()
        await cur.execute("""SELECT unit, coalesce(sum(amount), 0)::bigint AS debits_less_credits
                             FROM business.ledger_postings GROUP BY unit ORDER BY unit""")
        totals = {row["unit"]: row["debits_less_credits"] for row in await cur.fetchall()}
    return [row | {"unit_debits_less_credits": totals.get(row["unit"], 0)} for row in by_kind]
