"""Read queries of fleets at head office: an enterprise's money (from the ledger's views), its remaining credit,
the enterprise list (filters, sort, cursor; the list page and its Excel export share ``EnterpriseFilter``) and
its totals, an enterprise's history, cards and statement."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from decimal import Decimal
from typing import Annotated, Any

import psycopg
from psycopg.rows import dict_row
from pydantic import BaseModel, ConfigDict, Field, field_validator

from business_services.exports.model import Column
from business_services.exports.model import Scope as StationScope
from business_services.fleets.model import REVIEW_NAMES, SETTLEMENT_NAMES, STATUS_NAMES, Status, over_warning
from business_services.ledger import views as ledger_views
from business_services.ledger.model import fleet_gift, fleet_prepaid, fleet_receivable
from business_services.pages import After, Sort, keyset_page
from telemetry.contracts.identifiers import PLAIN_TEXT as PLAIN

BY_CODE = Sort("code", str, tiebreak="code", tiebreak_kind=str)


async def debt(conn: psycopg.AsyncConnection, code: str) -> int:
    """What the enterprise owes for its sales on credit (挂账), in fen: its receivable's balance."""
    return await ledger_views.balance(conn, fleet_receivable(code).code)


async def remaining_credit(conn: psycopg.AsyncConnection, code: str) -> int:
    """The enterprise's credit line less its debt, in fen (negative when it is over its line; 0 for an
    enterprise that does not exist or has no line). Open reservations are not subtracted here."""
    cur = await conn.execute("SELECT credit_limit_fen FROM business.fleet_enterprises WHERE code = %s", (code,))
    row = await cur.fetchone()
    if row is None:
        return 0
    return int(row[0]) - await debt(conn, code)


async def money(conn: psycopg.AsyncConnection, code: str) -> dict[str, int]:
    """The enterprise's prepaid and gift balances, its debt and its remaining credit, in fen."""
    return {"prepaid_fen": await ledger_views.balance(conn, fleet_prepaid(code).code),
            "gift_fen": await ledger_views.balance(conn, fleet_gift(code).code),
            "debt_fen": await debt(conn, code), "remaining_credit_fen": await remaining_credit(conn, code)}


class EnterpriseFilter(BaseModel):
    """The enterprise list's filters (the list page and its Excel export); all optional. ``q``: part of the name,
    the code or the customer code."""

    model_config = ConfigDict(extra="ignore")    # the list's own cursor, limit and sort pass beside them
    q: Annotated[str, Field(max_length=50, pattern=PLAIN, description="企业名称、编号或客户编码")] = ""
    status: Annotated[str, Field(pattern=r"^(normal|frozen|closed)?$")] = ""
    review: Annotated[str, Field(pattern=r"^(pending|approved|rejected)?$")] = ""
    settlement: Annotated[str, Field(pattern=r"^(prepaid|credit)?$")] = ""
    group_id: Annotated[int | None, Field(ge=1, le=2**62)] = None
    station: Annotated[str | None, Field(pattern=r"^[a-z0-9-]{1,32}$")] = None   # None: every station in scope

    @field_validator("station", "group_id", mode="before")
    @classmethod
    def _any(cls, value: object) -> object:
        return None if value == "" else value     # the list page sends an empty filter as ""


_LIST = """SELECT e.code, e.name, e.customer_code, e.tax_no, e.maintaining_station, e.status, e.review,
                  e.settlement, e.group_id, g.name AS group_name, e.credit_limit_fen, e.warn_pct, e.created_at,
                  coalesce(p.balance, 0)::bigint AS prepaid_fen, coalesce(gb.balance, 0)::bigint AS gift_fen,
                  coalesce(r.balance, 0)::bigint AS debt_fen,
                  (e.credit_limit_fen - coalesce(r.balance, 0))::bigint AS remaining_credit_fen,
                  (SELECT count(*) FROM business.fleet_cards c
                   WHERE c.enterprise = e.code AND c.status <> 'closed') AS card_count
           FROM business.fleet_enterprises e
           LEFT JOIN business.fleet_groups g ON g.id = e.group_id
           LEFT JOIN business.ledger_balances p ON p.code = 'fleet:' || e.code || ':prepaid'
           LEFT JOIN business.ledger_balances gb ON gb.code = 'fleet:' || e.code || ':gift'
           LEFT JOIN business.ledger_balances r ON r.code = 'receivable:fleet:' || e.code
           WHERE (%(q)s = '' OR strpos(e.name, %(q)s) > 0 OR e.code = upper(%(q)s)
                  OR strpos(e.customer_code, %(q)s) > 0)
             AND (%(status)s = '' OR e.status = %(status)s) AND (%(review)s = '' OR e.review = %(review)s)
             AND (%(settlement)s = '' OR e.settlement = %(settlement)s)
             AND (%(group)s::bigint IS NULL OR e.group_id = %(group)s)
             AND (%(station)s = '' OR e.maintaining_station = %(station)s)
             AND (%(scope)s::text[] IS NULL OR e.maintaining_station = ANY(%(scope)s))"""


def _query(f: EnterpriseFilter, scope: StationScope) -> tuple[str, dict[str, Any]]:
    return _LIST, {"q": f.q, "status": f.status, "review": f.review, "settlement": f.settlement,
                   "group": f.group_id, "station": f.station or "", "scope": None if scope is None else sorted(scope)}


def _flagged(row: dict[str, Any]) -> dict[str, Any]:
    return row | {"over_warning": over_warning(row["debt_fen"], row["credit_limit_fen"], row["warn_pct"])}


async def enterprises(conn: psycopg.AsyncConnection, f: EnterpriseFilter, scope: StationScope, *, limit: int = 20,
                      after: After | None = None) -> tuple[list[dict[str, Any]], int, After | None]:
    """Enterprises matching the filters among the ``scope``'s stations (None: every station), by code, each
    with its balances, debt, remaining credit, open cards and over-limit flag."""
    sql, params = _query(f, scope)
    found, total, last = await keyset_page(conn, sql, params, BY_CODE, limit, after)
    return [_flagged(r) for r in found], total, last


async def totals(conn: psycopg.AsyncConnection, f: EnterpriseFilter, scope: StationScope) -> dict[str, int]:
    """Over every matching enterprise: count, prepaid, gift, debt and remaining credit (fen)."""
    sql, params = _query(f, scope)
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(f"""SELECT count(*) AS count, coalesce(sum(prepaid_fen), 0)::bigint AS prepaid_fen,
                                     coalesce(sum(gift_fen), 0)::bigint AS gift_fen,
                                     coalesce(sum(debt_fen), 0)::bigint AS debt_fen,
                                     coalesce(sum(remaining_credit_fen), 0)::bigint AS remaining_credit_fen
                              FROM ({sql}) AS q""", params)  # noqa: S608 (our own text)
        row = await cur.fetchone()
    assert row is not None   # noqa: S101 (an aggregate has one row)
    return {k: int(v) for k, v in row.items()}


async def count(conn: psycopg.AsyncConnection, f: EnterpriseFilter, scope: StationScope) -> int:
    return (await totals(conn, f, scope))["count"]


COLUMNS = (Column("code", "企业编号", 10), Column("name", "企业名称", 24), Column("customer_code", "客户编码", 14),
           Column("maintaining_station", "维护站点", 12), Column("status", "状态", 8), Column("review", "审核", 8),
           Column("group_name", "分组", 14), Column("settlement", "结算方式", 12),
           Column("prepaid", "预付余额（元）", 14), Column("gift", "赠送余额（元）", 14),
           Column("debt", "挂账欠款（元）", 14), Column("credit_limit", "授信额度（元）", 14),
           Column("remaining_credit", "剩余授信（元）", 14), Column("card_count", "卡数", 8),
           Column("warning", "超限预警", 10))


def _yuan(fen: int) -> Decimal:
    return Decimal(fen) / 100


async def rows(conn: psycopg.AsyncConnection, f: EnterpriseFilter, scope: StationScope,
               pii: bool) -> AsyncIterator[Mapping[str, Any]]:
    """Every matching enterprise by code, streamed (the Excel export; call inside a transaction); money in yuan."""
    sql, params = _query(f, scope)
    async with conn.cursor(name="fleet_enterprise_rows", row_factory=dict_row) as cur:
        cur.itersize = 1000
        await cur.execute(f"SELECT * FROM ({sql}) AS q ORDER BY code", params)  # noqa: S608 (our own text)
        async for r in cur:
            r = _flagged(r)
            yield {"code": r["code"], "name": r["name"], "customer_code": r["customer_code"],
                   "maintaining_station": r["maintaining_station"], "status": STATUS_NAMES[Status(r["status"])],
                   "review": REVIEW_NAMES[r["review"]], "group_name": r["group_name"] or "",
                   "settlement": SETTLEMENT_NAMES[r["settlement"]], "prepaid": _yuan(r["prepaid_fen"]),
                   "gift": _yuan(r["gift_fen"]), "debt": _yuan(r["debt_fen"]),
                   "credit_limit": _yuan(r["credit_limit_fen"]), "remaining_credit": _yuan(r["remaining_credit_fen"]),
                   "card_count": r["card_count"], "warning": "超限" if r["over_warning"] else ""}


async def enterprise(conn: psycopg.AsyncConnection, code: str) -> dict[str, Any] | None:
    """One enterprise: its profile, group, money, over-limit flag and the change waiting for review."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("""SELECT e.*, g.name AS group_name FROM business.fleet_enterprises e
                             LEFT JOIN business.fleet_groups g ON g.id = e.group_id WHERE e.code = %s""", (code,))
        row = await cur.fetchone()
    if row is None:
        return None
    return _flagged(row | await money(conn, code))


async def history(conn: psycopg.AsyncConnection, code: str, limit: int = 100) -> list[dict[str, Any]]:
    """The enterprise's changes, newest first (applied, pending and rejected)."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("""SELECT id, kind, before, after, state, changed_by, changed_at, reviewed_by, reviewed_at,
                                    note FROM business.fleet_enterprise_changes WHERE enterprise = %s
                             ORDER BY id DESC LIMIT %s""", (code, limit))
        return list(await cur.fetchall())


async def cards(conn: psycopg.AsyncConnection, code: str, limit: int = 500) -> list[dict[str, Any]]:
    """The enterprise's cards (read-only here) with each card's own balance."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("""SELECT c.id, c.card_no, c.holder, c.plate, c.driver, c.status, c.pays_from,
                                    coalesce(b.balance, 0)::bigint AS balance_fen, c.issued_at
                             FROM business.fleet_cards c
                             LEFT JOIN business.ledger_balances b ON b.code = 'card:' || c.card_no
                             WHERE c.enterprise = %s ORDER BY c.card_no LIMIT %s""", (code, limit))
        return list(await cur.fetchall())


#: the enterprise's accounts a statement may be asked of
ACCOUNTS = {"prepaid": fleet_prepaid, "gift": fleet_gift, "receivable": fleet_receivable}


async def statement(conn: psycopg.AsyncConnection, code: str, account: str, *, limit: int = 50,
                    after: After | None = None) -> tuple[list[dict[str, Any]], int, After | None]:
    """The postings of one of the enterprise's accounts, newest first (the ledger's statement)."""
    return await ledger_views.statement(conn, ACCOUNTS[account](code).code, after=after, limit=limit)


async def groups(conn: psycopg.AsyncConnection, scope: StationScope) -> list[dict[str, Any]]:
    """Every group by name, with its number of enterprises among the ``scope``'s stations (None: all)."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("""SELECT g.id, g.name, count(e.code) AS enterprises FROM business.fleet_groups g
                             LEFT JOIN business.fleet_enterprises e ON e.group_id = g.id
                                  AND (%(scope)s::text[] IS NULL OR e.maintaining_station = ANY(%(scope)s))
                             GROUP BY g.id ORDER BY g.name LIMIT 1000""",
                          {"scope": None if scope is None else sorted(scope)})
        return list(await cur.fetchall())


async def stations_of(conn: psycopg.AsyncConnection, codes: list[str]) -> dict[str, str]:
    """The maintaining station of each of these enterprises that exists (the caller's scope is checked on it)."""
    cur = await conn.execute("SELECT code, maintaining_station FROM business.fleet_enterprises WHERE code = ANY(%s)",
                             (codes,))
    return {code: station for code, station in await cur.fetchall()}
