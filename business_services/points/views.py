"""Read queries of points: a member's balance and history (for the API and the member 360° page), the rules, the
settings, the mall's items and redemptions. The balance is the ledger's account ``points:<member_no>``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from business_services.ledger import views as ledger
from business_services.ledger.model import points
from business_services.pages import After, Sort, keyset_page
from business_services.points import repository
from business_services.points.model import Settings

MOVEMENTS = ledger.NEWEST_FIRST
NEWEST_REDEMPTION = Sort("redeemed_at", datetime, descending=True, tiebreak="redemption_no", tiebreak_kind=str)
BY_SKU = Sort("sku", str, tiebreak="sku", tiebreak_kind=str)

#: each ledger entry kind of a points account, as people read it
MOVEMENT_NAMES = {"points.awarded": "消费积分", "points.reversed": "退款扣回", "points.expired": "积分过期",
                  "points.redeemed": "积分兑换", "points.transferred": "积分转赠/归属", "points.paid": "积分抵现"}


async def balance(conn: psycopg.AsyncConnection, member_no: str) -> int:
    """The member's points now (0 for a member who never had any)."""
    row = await ledger.account(conn, points(member_no).code)
    return 0 if row is None else int(row["balance"])


async def summary(conn: psycopg.AsyncConnection, member_no: str, now: datetime) -> dict[str, Any]:
    """Balance, points debt, and what expires when (the next dates first)."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("""SELECT expires_at, sum(remaining)::int AS points FROM business.points_lots
                             WHERE member_no = %s AND remaining > 0 GROUP BY expires_at ORDER BY expires_at""",
                          (member_no,))
        expiring = [r | {"overdue": r["expires_at"] <= now} for r in await cur.fetchall()]
    return {"member_no": member_no, "balance": await balance(conn, member_no),
            "debt": await repository.owed(conn, member_no), "expiring": expiring}


async def history(conn: psycopg.AsyncConnection, member_no: str, *, after: After | None,
                  limit: int) -> dict[str, Any]:
    """The member's movements newest first (keyset pages of the ledger statement, ``change`` > 0 = points in),
    with, on the first page, the lots (where the points are, and when each expires) and the debt's changes."""
    rows, total, last = await ledger.statement(conn, points(member_no).code, after=after, limit=limit)
    movements = [{"entry_id": r["entry_id"], "kind": r["kind"], "name": MOVEMENT_NAMES.get(r["kind"], r["kind"]),
                  "reference": r["reference"], "station": r["station"], "occurred_at": r["occurred_at"],
                  "change": -int(r["amount"])} for r in rows]
    lots: list[dict[str, Any]] = []
    debts: list[dict[str, Any]] = []
    if after is None:
        async with conn.cursor(row_factory=dict_row) as cur:
            await cur.execute("""SELECT id, points, remaining, expired_points, source, station, earned_at, expires_at
                                 FROM business.points_lots WHERE member_no = %s ORDER BY id DESC LIMIT 200""",
                              (member_no,))
            lots = await cur.fetchall()
            await cur.execute("""SELECT change, reason, reference, at FROM business.points_debt_changes
                                 WHERE member_no = %s ORDER BY id DESC LIMIT 100""", (member_no,))
            debts = await cur.fetchall()
    return {"movements": movements, "total": total, "last": last, "lots": lots, "debt_changes": debts}


async def settings(conn: psycopg.AsyncConnection) -> Settings:
    return await repository.settings(conn)


async def rules(conn: psycopg.AsyncConnection, kind: str | None = None) -> list[dict[str, Any]]:
    """Every rule, newest first (few: no pages)."""
    return [r for r in reversed(await repository.rule_rows(conn)) if kind is None or r["kind"] == kind]


async def rule(conn: psycopg.AsyncConnection, rule_id: int) -> dict[str, Any] | None:
    rows = await repository.rule_rows(conn, rule_id)
    return rows[0] if rows else None


async def items(conn: psycopg.AsyncConnection, *, q: str | None, kind: str | None, active: bool | None,
                after: After | None, limit: int) -> tuple[list[dict[str, Any]], int, After | None]:
    query = """SELECT sku, name, kind, points, stock, value_fen, active, note, created_at, changed_at
               FROM business.points_mall_items
               WHERE (%(q)s::text IS NULL OR sku ILIKE '%%' || %(q)s || '%%' OR name ILIKE '%%' || %(q)s || '%%')
                 AND (%(kind)s::text IS NULL OR kind = %(kind)s)
                 AND (%(active)s::boolean IS NULL OR active = %(active)s)"""
    return await keyset_page(conn, query, {"q": q, "kind": kind, "active": active}, BY_SKU, limit, after)


async def item(conn: psycopg.AsyncConnection, sku: str) -> dict[str, Any] | None:
    return await repository.item(conn, sku)


async def redemptions(conn: psycopg.AsyncConnection, *, member_no: str | None, sku: str | None,
                      stations: frozenset[str] | None, after: After | None,
                      limit: int) -> tuple[list[dict[str, Any]], int, After | None]:
    """Redemptions newest first; a caller scoped to stations sees those made at its stations."""
    query = """SELECT r.redemption_no, r.member_no, r.sku, i.name, r.quantity, r.points, r.station, r.redeemed_by,
                      r.redeemed_at
               FROM business.points_redemptions r JOIN business.points_mall_items i USING (sku)
               WHERE (%(member)s::text IS NULL OR r.member_no = %(member)s)
                 AND (%(sku)s::text IS NULL OR r.sku = %(sku)s)
                 AND (%(all)s OR r.station = ANY(%(scope)s))"""
    params = {"member": member_no, "sku": sku, "all": stations is None, "scope": sorted(stations or ())}
    return await keyset_page(conn, query, params, NEWEST_REDEMPTION, limit, after)


async def redemption(conn: psycopg.AsyncConnection, redemption_no: str) -> dict[str, Any] | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("""SELECT r.redemption_no, r.member_no, r.sku, i.name, r.quantity, r.points, r.station,
                                    r.redeemed_by, r.redeemed_at
                             FROM business.points_redemptions r JOIN business.points_mall_items i USING (sku)
                             WHERE r.redemption_no = %s""", (redemption_no,))
        return await cur.fetchone()
