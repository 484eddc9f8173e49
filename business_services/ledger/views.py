"""Read queries of the ledger: accounts with balances, an account's statement, the trial balance."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row


async def accounts(conn: psycopg.AsyncConnection, *, stations: frozenset[str] | None, station: str | None,
                   kind: str | None, prefix: str | None, after: str | None, limit: int) -> list[dict[str, Any]]:
    """Accounts in code order after ``after`` (keyset). ``stations``: the caller's scope (None: all, including
    company-wide accounts; a scoped caller sees only its stations' accounts)."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            """SELECT code, name, kind, unit, station, balance, may_go_negative, opened_at
               FROM business.ledger_accounts
               WHERE (%(all)s OR station = ANY(%(scope)s))
                 AND (%(station)s::text IS NULL OR station = %(station)s)
                 AND (%(kind)s::text IS NULL OR kind = %(kind)s)
                 AND (%(prefix)s::text IS NULL OR code LIKE %(prefix)s || '%%')
                 AND (%(after)s::text IS NULL OR code > %(after)s)
               ORDER BY code LIMIT %(limit)s""",
            {"all": stations is None, "scope": sorted(stations or ()), "station": station, "kind": kind,
             "prefix": prefix, "after": after, "limit": limit})
        return await cur.fetchall()


async def account(conn: psycopg.AsyncConnection, code: str) -> dict[str, Any] | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("""SELECT code, name, kind, unit, station, balance, may_go_negative, opened_at
                             FROM business.ledger_accounts WHERE code = %s""", (code,))
        return await cur.fetchone()


async def statement(conn: psycopg.AsyncConnection, code: str, *, before: int | None,
                    limit: int) -> list[dict[str, Any]]:
    """The account's postings, newest first, before entry id ``before`` (keyset)."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            """SELECT e.id AS entry_id, e.kind, e.reference, e.memo, e.station, e.occurred_at, e.recorded_at,
                      p.amount
               FROM business.ledger_postings p JOIN business.ledger_entries e ON e.id = p.entry_id
               WHERE p.account = %s AND (%s::bigint IS NULL OR p.entry_id < %s)
               ORDER BY p.entry_id DESC LIMIT %s""",
            (code, before, before, limit))
        return await cur.fetchall()


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
