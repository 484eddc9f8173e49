"""Read queries of the ledger: accounts with balances, an account's statement, the trial balance.

A balance is read from ``business.ledger_balances`` (the account's row plus its stripes, for a hot account:
migrations/0003_hot_accounts.sql), never from ``ledger_accounts.balance`` alone. Other contexts call these
functions (the member 360° page: ``statement``, ``balance``), never the tables.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

import psycopg
from psycopg.rows import dict_row
from pydantic import BaseModel, ConfigDict, Field, field_validator

from business_services.audit.views import Moment
from business_services.exports.model import Column, Scope
from business_services.ledger.model import CUSTOMER_CODE, mask_card_numbers
from business_services.pages import After, Sort, keyset_page

BY_CODE = Sort("code", str, tiebreak="code", tiebreak_kind=str)
# an account's postings in the order its balance moved (seq: 1, 2, 3 … per account; migrations/0002)
NEWEST_FIRST = Sort("seq", int, descending=True, tiebreak="seq")
OLDEST_FIRST = Sort("seq", int, tiebreak="seq")
ORDERS: dict[str, Sort] = {"newest": NEWEST_FIRST, "oldest": OLDEST_FIRST}


@asynccontextmanager
async def one_snapshot(conn: psycopg.AsyncConnection) -> AsyncIterator[None]:
    """Reads inside see one moment of the books (a statement's totals and its rows agree while others post)."""
    async with conn.transaction():
        await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


async def accounts(conn: psycopg.AsyncConnection, *, stations: frozenset[str] | None, station: str | None,
                   kind: str | None, prefix: str | None, after: After | None,
                   limit: int) -> tuple[list[dict[str, Any]], int, After | None]:
    """The company's accounts in code order (keyset pages); customers' accounts (cards, IC purses, members'
    points) are read one by one (``statement``). ``stations``: the caller's scope (None: all, including
    company-wide accounts; a scoped caller sees only its stations' accounts)."""
    query = """SELECT a.code, a.name, a.kind, a.unit, a.station, b.balance, a.may_go_negative, a.opened_at
               FROM business.ledger_accounts a JOIN business.ledger_balances b USING (code)
               WHERE (%(all)s OR a.station = ANY(%(scope)s))
                 AND (%(station)s::text IS NULL OR a.station = %(station)s)
                 AND (%(kind)s::text IS NULL OR a.kind = %(kind)s)
                 AND (%(prefix)s::text IS NULL OR a.code LIKE %(prefix)s || '%%')
                 AND a.code !~ %(customers)s"""
    params = {"all": stations is None, "scope": sorted(stations or ()), "station": station, "kind": kind,
              "prefix": prefix, "customers": CUSTOMER_CODE}
    return await keyset_page(conn, query, params, BY_CODE, limit, after)


async def account(conn: psycopg.AsyncConnection, code: str) -> dict[str, Any] | None:
    """The account with its balance, its number of postings and whether it is striped (a hot account)."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("""SELECT a.code, a.name, a.kind, a.unit, a.station, b.balance, b.postings, b.striped,
                                    a.may_go_negative, a.opened_at
                             FROM business.ledger_accounts a JOIN business.ledger_balances b USING (code)
                             WHERE a.code = %s""", (code,))
        return await cur.fetchone()


async def balance(conn: psycopg.AsyncConnection, code: str) -> int:
    """The account's balance now, in its normal direction (0 for an account never posted to)."""
    row = await (await conn.execute("SELECT balance FROM business.ledger_balances WHERE code = %s",
                                    (code,))).fetchone()
    return 0 if row is None else int(row[0])


_PERIOD = """(%(since)s::timestamptz IS NULL OR p.posted_at >= %(since)s)
             AND (%(until)s::timestamptz IS NULL OR p.posted_at < %(until)s)"""
_CHANGE = "CASE WHEN a.kind IN ('asset', 'expense') THEN p.amount ELSE -p.amount END"


async def statement(conn: psycopg.AsyncConnection, code: str, *, since: datetime | None = None,
                    until: datetime | None = None, order: Literal["newest", "oldest"] = "newest",
                    after: After | None = None, limit: int = 50) -> tuple[list[dict[str, Any]], int, After | None]:
    """The account's postings posted in ``[since, until)`` (either open), in the order its balance moved,
    newest or oldest first (keyset pages on ``seq``), each with the balance right after it
    (``balance_after``: the running balance). Debit > 0, credit < 0.

    A hot (striped) account's balance moves on several rows at once, so it has no single order: its ``seq``
    is the entry id and its running balance is summed in entry order from the period's opening balance (the
    last one equals the closing balance); that sums the period's postings on every page."""
    params: dict[str, Any] = {"code": code, "since": since, "until": until}
    columns = """p.amount, p.posted_at, e.id AS entry_id, e.kind, e.reference, e.memo, e.station, e.occurred_at,
                 e.recorded_at"""
    if await _striped(conn, code):
        params["opening"] = 0 if since is None else await balance_at(conn, code, since)
        query = f"""SELECT p.entry_id AS seq,
                           (%(opening)s + sum({_CHANGE}) OVER (ORDER BY p.entry_id))::bigint AS balance_after,
                           {columns}
                    FROM business.ledger_postings p JOIN business.ledger_entries e ON e.id = p.entry_id
                    JOIN business.ledger_accounts a ON a.code = p.account
                    WHERE p.account = %(code)s AND {_PERIOD}"""  # noqa: S608 (our own text)
    else:
        query = f"""SELECT p.seq, p.balance_after, {columns}
                    FROM business.ledger_postings p JOIN business.ledger_entries e ON e.id = p.entry_id
                    WHERE p.account = %(code)s AND p.seq IS NOT NULL AND {_PERIOD}"""  # noqa: S608 (our own text)
    return await keyset_page(conn, query, params, ORDERS[order], limit, after)


async def _striped(conn: psycopg.AsyncConnection, code: str) -> bool:
    row = await (await conn.execute("SELECT EXISTS (SELECT FROM business.ledger_stripes WHERE account = %s)",
                                    (code,))).fetchone()
    return bool(row and row[0])


async def balance_at(conn: psycopg.AsyncConnection, code: str, at: datetime | None) -> int:
    """The account's balance just before ``at`` (None: now): the last posting's balance after it (a hot
    account's: the sum of its postings before ``at``)."""
    if at is None:
        return await balance(conn, code)
    if await _striped(conn, code):
        cur = await conn.execute(f"""SELECT coalesce(sum({_CHANGE}), 0)::bigint FROM business.ledger_postings p
                                     JOIN business.ledger_accounts a ON a.code = p.account
                                     WHERE p.account = %s AND p.posted_at < %s""", (code, at))  # noqa: S608
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
        f"""SELECT coalesce(sum(p.amount) FILTER (WHERE p.amount > 0), 0)::bigint,
                   coalesce(-sum(p.amount) FILTER (WHERE p.amount < 0), 0)::bigint
            FROM business.ledger_postings p WHERE p.account = %(code)s AND {_PERIOD}""",  # noqa: S608
        {"code": code, "since": since, "until": until})
    debits, credits = await cur.fetchone() or (0, 0)
    return {"opening": 0 if since is None else await balance_at(conn, code, since),
            "closing": await balance_at(conn, code, until), "debits": int(debits), "credits": int(credits)}


async def trial_balance(conn: psycopg.AsyncConnection) -> list[dict[str, Any]]:
    """Per unit and kind: the sum of balances, and per unit the debits less credits of every posting (which
    double entry keeps at zero)."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            """SELECT a.unit, a.kind, sum(b.balance)::bigint AS balance, count(*) AS accounts
               FROM business.ledger_accounts a JOIN business.ledger_balances b USING (code)
               GROUP BY a.unit, a.kind ORDER BY a.unit, a.kind""")
        by_kind = await cur.fetchall()
        await cur.execute("""SELECT unit, coalesce(sum(amount), 0)::bigint AS debits_less_credits
                             FROM business.ledger_postings GROUP BY unit ORDER BY unit""")
        totals = {row["unit"]: row["debits_less_credits"] for row in await cur.fetchall()}
    return [row | {"unit_debits_less_credits": totals.get(row["unit"], 0)} for row in by_kind]


# ---- the statement as an Excel export (business_services/exports/kinds.py: kind ``ledger_statement``) -------

class StatementFilter(BaseModel):
    """One account's statement for ``[since, until)``. A customer's account is not exported here: the export
    machinery checks one permission (``ledger:read``), and a customer's needs ``card:read``/``member:read``."""

    model_config = ConfigDict(extra="forbid")
    code: Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.:-]+$")]
    since: Moment | None = None
    until: Moment | None = None

    @field_validator("code")
    @classmethod
    def _companys(cls, code: str) -> str:
        if re.search(CUSTOMER_CODE, code):
            raise ValueError("客户账户（卡、积分）的流水不在此导出 (a customer's account is not exported here)")
        return code


STATEMENT_COLUMNS = (Column("seq", "序号", 10), Column("posted_at", "记账时间", 20),
                     Column("occurred_at", "发生时间", 20), Column("kind", "类型", 18),
                     Column("reference", "单据号", 26), Column("station", "站点", 10), Column("memo", "摘要", 30),
                     Column("debit", "借方", 12), Column("credit", "贷方", 12), Column("balance_after", "余额", 14))


async def _exportable(conn: psycopg.AsyncConnection, f: StatementFilter, scope: Scope) -> dict[str, Any] | None:
    row = await account(conn, f.code)
    if row is None or (scope is not None and row["station"] not in scope):
        return None
    return row


async def statement_count(conn: psycopg.AsyncConnection, f: StatementFilter, scope: Scope) -> int:
    if await _exportable(conn, f, scope) is None:
        return 0
    _, total, _ = await statement(conn, f.code, since=f.since, until=f.until, limit=1)
    return total


async def statement_rows(conn: psycopg.AsyncConnection, f: StatementFilter, scope: Scope,
                         pii: bool) -> AsyncIterator[Mapping[str, Any]]:
    """The statement oldest first, in yuan (points as they are), a page of 1000 at a time; card numbers in
    memos (a card debit's) masked without ``pii:read``."""
    found = await _exportable(conn, f, scope)
    if found is None:
        return
    scale = Decimal(1) if found["unit"] == "point" else Decimal("0.01")
    after: After | None = None
    while True:
        rows, _, after = await statement(conn, f.code, since=f.since, until=f.until, order="oldest", after=after,
                                         limit=1000)
        for r in rows:
            yield r | {"memo": r["memo"] if pii else mask_card_numbers(r["memo"]),
                       "debit": r["amount"] * scale if r["amount"] > 0 else None,
                       "credit": -r["amount"] * scale if r["amount"] < 0 else None,
                       "balance_after": r["balance_after"] * scale}
        if after is None:
            return
