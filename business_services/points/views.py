"""Read queries of points: a member's balance and history (for the API and the member 360° page), the rules, the
settings, the mall's items and redemptions. The balance is the ledger's account ``points:<member_no>``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from typing import Annotated, Any

import psycopg
from psycopg.rows import dict_row
from pydantic import BaseModel, ConfigDict, Field

from business_services.exports.model import Column
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


class RedemptionFilter(BaseModel):
    """The redemption list's filters (its page and its Excel export); empty: any."""

    model_config = ConfigDict(extra="forbid")
    member_no: Annotated[str, Field(pattern=r"^(M[0-9]{8,12})?$", description="会员号")] = ""
    sku: Annotated[str, Field(max_length=32, description="商品编码")] = ""


REDEMPTION_COLUMNS = (Column("redeemed_at", "兑换时间", 20), Column("redemption_no", "兑换单号", 24),
                      Column("member_no", "会员号", 14), Column("sku", "商品编码", 12), Column("name", "商品名称", 20),
                      Column("quantity", "数量", 8), Column("points", "消耗积分", 10),
                      Column("station", "领取站点", 10), Column("redeemed_by", "操作人", 12))


def _redemptions(f: RedemptionFilter, stations: frozenset[str] | None) -> tuple[str, dict[str, Any]]:
    query = """SELECT r.redemption_no, r.member_no, r.sku, i.name, r.quantity, r.points, r.station, r.redeemed_by,
                      r.redeemed_at
               FROM business.points_redemptions r JOIN business.points_mall_items i USING (sku)
               WHERE (%(member)s = '' OR r.member_no = %(member)s)
                 AND (%(sku)s = '' OR r.sku = %(sku)s)
                 AND (%(all)s OR r.station = ANY(%(scope)s))"""
    return query, {"member": f.member_no, "sku": f.sku, "all": stations is None, "scope": sorted(stations or ())}


async def redemptions(conn: psycopg.AsyncConnection, f: RedemptionFilter, stations: frozenset[str] | None,
                      after: After | None, limit: int) -> tuple[list[dict[str, Any]], int, After | None]:
    """Redemptions newest first; a caller scoped to stations sees those made at its stations."""
    query, params = _redemptions(f, stations)
    return await keyset_page(conn, query, params, NEWEST_REDEMPTION, limit, after)


async def redemptions_count(conn: psycopg.AsyncConnection, f: RedemptionFilter, stations: frozenset[str] | None) -> int:
    query, params = _redemptions(f, stations)
    cur = await conn.execute(f"SELECT count(*) FROM ({query}) q", params)  # noqa: S608 (our own text)
    row = await cur.fetchone()
    return int(row[0]) if row else 0


async def redemption_rows(conn: psycopg.AsyncConnection, f: RedemptionFilter, stations: frozenset[str] | None,
                          pii: bool) -> AsyncIterator[Mapping[str, Any]]:
    """Every matching redemption newest first, streamed (the Excel export; nothing personal in them)."""
    query, params = _redemptions(f, stations)
    async with conn.cursor(name="points_redemption_rows", row_factory=dict_row) as cur:
        cur.itersize = 2000
        await cur.execute(f"SELECT * FROM ({query}) q ORDER BY redeemed_at DESC, redemption_no DESC", params)  # noqa: S608
        async for row in cur:
            yield row


async def redemption(conn: psycopg.AsyncConnection, redemption_no: str) -> dict[str, Any] | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("""SELECT r.redemption_no, r.member_no, r.sku, i.name, r.quantity, r.points, r.station,
                                    r.redeemed_by, r.redeemed_at
                             FROM business.points_redemptions r JOIN business.points_mall_items i USING (sku)
                             WHERE r.redemption_no = %s""", (redemption_no,))
        return await cur.fetchone()
