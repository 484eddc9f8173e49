"""Read queries of the ledger: accounts with balances, an account's statement, the trial balance."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row

from business_services.pages import After, Sort, keyset_page

BY_CODE = Sort("code", str, tiebreak="code", tiebreak_kind=str)
NEWEST_FIRST = Sort("entry_id", int, descending=True, tiebreak="entry_id")


async def accounts(conn: psycopg.AsyncConnection, *, stations: frozenset[str] | None, station: str | None,
                   kind: str | None, prefix: str | None, after: After | None,
                   limit: int) -> tuple[list[dict[str, Any]], int, After | None]:
    """Accounts in code order (keyset pages). ``stations``: the caller's scope (None: all, including
    company-wide accounts; a scoped caller sees only its stations' accounts)."""
    query = """SELECT code, name, kind, unit, station, balance, may_go_negative, opened_at
               FROM business.ledger_accounts
               WHERE (%(all)s OR station = ANY(%(scope)s))
                 AND (%(station)s::text IS NULL OR station = %(station)s)
                 AND (%(kind)s::text IS NULL OR kind = %(kind)s)
                 AND (%(prefix)s::text IS NULL OR code LIKE %(prefix)s || '%%')"""
    params = {"all": stations is None, "scope": sorted(stations or ()), "station": station, "kind": kind,
              "prefix": prefix}
    return await keyset_page(conn, query, params, BY_CODE, limit, after)


async def account(conn: psycopg.AsyncConnection, code: str) -> dict[str, Any] | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("""SELECT code, name, kind, unit, station, balance, may_go_negative, opened_at
                             FROM business.ledger_accounts WHERE code = %s""", (code,))
        return await cur.fetchone()


async def statement(conn: psycopg.AsyncConnection, code: str, *, after: After | None,
                    limit: int) -> tuple[list[dict[str, Any]], int, After | None]:
    """The account's postings, newest first (keyset pages)."""
    query = """SELECT e.id AS entry_id, e.kind, e.reference, e.memo, e.station, e.occurred_at, e.recorded_at,
                      p.amount
               FROM business.ledger_postings p JOIN business.ledger_entries e ON e.id = p.entry_id
               WHERE p.account = %(code)s"""
    return await keyset_page(conn, query, {"code": code}, NEWEST_FIRST, limit, after)


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
