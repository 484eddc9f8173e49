"""Read queries of fleet cards for the head-office pages (车队卡): the list with its filters, one card with the
money it may spend and what it used today, and its latest authorisations and sales. A caller sees the cards of
the enterprises its stations maintain (``scope``; None: every station)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import psycopg
from psycopg.rows import dict_row
from pydantic import BaseModel, ConfigDict, Field

from business_services.fleets.authorisation import usage
from business_services.fleets.cards import available_fen, card, money_fen
from business_services.pages import After, Sort, keyset_page

NEWEST_FIRST = Sort("id", int, descending=True)
Scope = frozenset[str] | None
_COLUMNS = """c.id, c.card_no, c.enterprise, e.name AS enterprise_name, c.holder, c.plate, c.driver, c.status,
              c.pays_from, c.pin_hash IS NOT NULL AS pin, c.pin_failures, c.grades, c.stations, c.hours_from,
              c.hours_to, c.per_fill_fen, c.litres_per_fill, c.daily_fen, c.weekly_fen, c.monthly_fen,
              c.fills_per_day, c.fills_per_week, c.fills_per_month, c.offline_limit_fen, c.issued_by, c.issued_at,
              e.maintaining_station"""


class CardFilter(BaseModel):
    """The list's filters, all optional: the enterprise, the status, a plate (whole or part), the card's number
    (whole, or its last digits)."""

    model_config = ConfigDict(extra="ignore")    # the list's own cursor and limit pass beside them
    enterprise: Annotated[str, Field(pattern=r"^(E[0-9]{6})?$")] = ""
    status: Annotated[str, Field(pattern=r"^(active|frozen|lost|closed)?$")] = ""
    plate: Annotated[str, Field(max_length=10, pattern=r"^[^\x00-\x1f%_\\]*$")] = ""
    q: Annotated[str, Field(pattern=r"^[0-9]{0,19}$", description="卡号或卡号后几位")] = ""


async def cards(conn: psycopg.AsyncConnection, f: CardFilter, scope: Scope, *, limit: int = 20,
                after: After | None = None) -> tuple[list[dict[str, Any]], int, After | None]:
    """Cards matching the filters, newest first, each with ``money_fen`` (its balance, or its enterprise's
    remaining credit)."""
    sql = f"""SELECT {_COLUMNS} FROM business.fleet_cards c JOIN business.fleet_enterprises e ON e.code = c.enterprise
              WHERE (%(enterprise)s = '' OR c.enterprise = %(enterprise)s)
                AND (%(status)s = '' OR c.status = %(status)s)
                AND (%(plate)s = '' OR c.plate LIKE '%%' || %(plate)s || '%%')
                AND (%(q)s = '' OR c.card_no = %(q)s OR c.card_no LIKE '%%' || %(q)s)
                AND (%(scope)s::text[] IS NULL OR e.maintaining_station = ANY(%(scope)s))"""  # noqa: S608
    params = {"enterprise": f.enterprise, "status": f.status, "plate": f.plate, "q": f.q,
              "scope": None if scope is None else sorted(scope)}
    rows, total, last = await keyset_page(conn, sql, params, NEWEST_FIRST, limit, after)
    return [r | {"money_fen": await _money(conn, r)} for r in rows], total, last


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
