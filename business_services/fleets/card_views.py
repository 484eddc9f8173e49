"""Read queries of fleet cards for the head-office pages (车队卡): the list with its filters, one card with the
money it may spend and what it used today, and its latest authorisations and sales. A caller sees the cards of
the enterprises its stations maintain (``scope``; None: every station)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

import psycopg
from psycopg.rows import dict_row
from pydantic import BaseModel, ConfigDict, Field

from business_services.cards.model import mask_card_no, mask_plate
from business_services.exports.model import Column
from business_services.fleets.authorisation import usage
from business_services.fleets.cards import STATUS_NAMES, available_fen, card, money_fen
from business_services.pages import After, Sort, keyset_page

NEWEST_FIRST = Sort("id", int, descending=True)
Scope = frozenset[str] | None
_COLUMNS = """c.id, c.card_no, c.enterprise, e.name AS enterprise_name, c.holder, c.plate, c.driver, c.status,
              c.pays_from, c.pin_hash IS NOT NULL AS pin, c.pin_failures, c.grades, c.stations, c.hours_from,
              c.hours_to, c.per_fill_fen, c.litres_per_fill, c.daily_fen, c.weekly_fen, c.monthly_fen,
              c.fills_per_day, c.fills_per_week, c.fills_per_month, c.offline_limit_fen, c.issued_by, c.issued_at,
              c.drive_through,
              e.maintaining_station"""


class CardFilter(BaseModel):
    """The list's filters, all optional: the enterprise, the status, a plate (whole or part), the card's number
    (whole, or its last digits)."""

    model_config = ConfigDict(extra="ignore")    # the list's own cursor and limit pass beside them
    enterprise: Annotated[str, Field(pattern=r"^(E[0-9]{6})?$")] = ""
    status: Annotated[str, Field(pattern=r"^(active|frozen|lost|closed)?$")] = ""
    plate: Annotated[str, Field(max_length=10, pattern=r"^[^\x00-\x1f%_\\]*$")] = ""
    q: Annotated[str, Field(pattern=r"^[0-9]{0,19}$", description="卡号或卡号后几位")] = ""


def _query(f: CardFilter, scope: Scope) -> tuple[str, dict[str, Any]]:
    sql = f"""SELECT {_COLUMNS} FROM business.fleet_cards c JOIN business.fleet_enterprises e ON e.code = c.enterprise
              WHERE (%(enterprise)s = '' OR c.enterprise = %(enterprise)s)
                AND (%(status)s = '' OR c.status = %(status)s)
                AND (%(plate)s = '' OR c.plate LIKE '%%' || %(plate)s || '%%')
                AND (%(q)s = '' OR c.card_no = %(q)s OR c.card_no LIKE '%%' || %(q)s)
                AND (%(scope)s::text[] IS NULL OR e.maintaining_station = ANY(%(scope)s))"""  # noqa: S608
    return sql, {"enterprise": f.enterprise, "status": f.status, "plate": f.plate, "q": f.q,
                 "scope": None if scope is None else sorted(scope)}


async def cards(conn: psycopg.AsyncConnection, f: CardFilter, scope: Scope, *, limit: int = 20,
                after: After | None = None) -> tuple[list[dict[str, Any]], int, After | None]:
    """Cards matching the filters, newest first, each with ``money_fen`` (its balance, or its enterprise's
    remaining credit)."""
    sql, params = _query(f, scope)
    rows_, total, last = await keyset_page(conn, sql, params, NEWEST_FIRST, limit, after)
    return [r | {"money_fen": await _money(conn, r)} for r in rows_], total, last


# ---- the Excel export (business_services/exports/kinds.py: fleet_cards) -------------------------------------

COLUMNS = (Column("card_no", "卡号", 22), Column("enterprise", "企业编码", 10), Column("enterprise_name", "企业", 20),
           Column("holder", "类型", 8), Column("plate", "车牌", 12), Column("driver", "司机", 10),
           Column("status", "状态", 8), Column("pays_from", "付款方式", 10), Column("money", "余额/剩余额度（元）", 16),
           Column("daily", "日限额（元）", 12), Column("weekly", "周限额（元）", 12),
           Column("monthly", "月限额（元）", 12),
           Column("per_fill", "单次限额（元）", 12), Column("fills_per_day", "每日次数", 10),
           Column("offline_limit", "离线日限额（元）", 14), Column("issued_at", "发卡时间", 20))
_HOLDERS = {"vehicle": "车辆卡", "driver": "司机卡"}
_PAYS_FROM = {"card": "卡内余额", "credit": "企业挂账"}


async def count(conn: psycopg.AsyncConnection, f: CardFilter, scope: Scope) -> int:
    sql, params = _query(f, scope)
    row = await (await conn.execute(f"SELECT count(*) FROM ({sql}) AS q", params)).fetchone()  # noqa: S608
    return int(row[0]) if row else 0


def _yuan(fen: int | None) -> Decimal | None:
    return None if fen is None else Decimal(fen) / 100


async def rows(conn: psycopg.AsyncConnection, f: CardFilter, scope: Scope,
               pii: bool) -> AsyncIterator[Mapping[str, Any]]:
    """Every matching card newest first (call inside a transaction), number and plate masked as on screen unless
    ``pii``; money in yuan."""
    sql, params = _query(f, scope)
    cur = await conn.execute(f"SELECT * FROM ({sql}) AS q ORDER BY id DESC", params)  # noqa: S608
    names = [d.name for d in cur.description or ()]
    for values in await cur.fetchall():
        r = dict(zip(names, values, strict=True))
        yield {"card_no": r["card_no"] if pii else mask_card_no(r["card_no"]), "enterprise": r["enterprise"],
               "enterprise_name": r["enterprise_name"], "holder": _HOLDERS[r["holder"]],
               "plate": r["plate"] if pii or r["plate"] is None else mask_plate(r["plate"]), "driver": r["driver"],
               "status": STATUS_NAMES[r["status"]], "pays_from": _PAYS_FROM[r["pays_from"]],
               "money": _yuan(await _money(conn, r)), "daily": _yuan(r["daily_fen"]), "weekly": _yuan(r["weekly_fen"]),
               "monthly": _yuan(r["monthly_fen"]), "per_fill": _yuan(r["per_fill_fen"]),
               "fills_per_day": r["fills_per_day"], "offline_limit": _yuan(r["offline_limit_fen"]),
               "issued_at": r["issued_at"]}


async def _money(conn: psycopg.AsyncConnection, row: dict[str, Any]) -> int:
    full = await card(conn, row["card_no"])
    return 0 if full is None else await money_fen(conn, full)


async def card_no_of(conn: psycopg.AsyncConnection, card_id: int) -> str | None:
    row = await (await conn.execute("SELECT card_no FROM business.fleet_cards WHERE id = %s", (card_id,))).fetchone()
    return None if row is None else str(row[0])


async def detail(conn: psycopg.AsyncConnection, card_no: str, now: datetime) -> dict[str, Any] | None:
    """One card: its limits, ``money_fen``, ``available_fen`` (less open reservations), what it used today, this
    week and this month, and its latest 20 authorisations and sales."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(f"""SELECT {_COLUMNS} FROM business.fleet_cards c
                              JOIN business.fleet_enterprises e ON e.code = c.enterprise
                              WHERE c.card_no = %s""", (card_no,))  # noqa: S608 (our own columns)
        row = await cur.fetchone()
        if row is None:
            return None
        await cur.execute("""SELECT auth_no, station, nozzle, grade, state, reserved_fen, code, reason, offline,
                                    asked_at, closed_at
                             FROM business.fleet_authorisations WHERE card_no = %s
                             ORDER BY asked_at DESC, auth_no DESC LIMIT 20""", (card_no,))
        authorisations = await cur.fetchall()
        await cur.execute("""SELECT station, payment_no, auth_no, amount_fen, litres_ml, grade, plate, offline, flag,
                                    paid_at
                             FROM business.fleet_payments WHERE card_no = %s
                             ORDER BY paid_at DESC, payment_no DESC LIMIT 20""", (card_no,))
        payments = await cur.fetchall()
    full = await card(conn, card_no)
    assert full is not None                              # noqa: S101 -- read just above
    used = await usage(conn, card_no, now)
    return row | {"money_fen": await money_fen(conn, full), "available_fen": await available_fen(conn, full, now),
                  "used": {"day_fen": used.day_fen, "week_fen": used.week_fen, "month_fen": used.month_fen,
                           "day_fills": used.day_fills, "week_fills": used.week_fills,
                           "month_fills": used.month_fills},
                  "authorisations": authorisations, "payments": payments}
