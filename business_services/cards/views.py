"""Read queries of cards, for the API and for other contexts: a card, a member's cards (the member 360° page),
card lists, types, offers, a card's recharges and payments. Balances come from the ledger's views."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from business_services.cards.model import CardKind, CardType, Limits, Medium, Offer, Scope
from business_services.cards.repository import CARD_COLUMNS
from business_services.ledger import views as ledger_views
from business_services.ledger.model import card as card_account
from business_services.pages import After, Sort, keyset_page

NEWEST_FIRST = Sort("issued_at", datetime, descending=True, tiebreak="card_no", tiebreak_kind=str)
BY_CODE = Sort("code", str, tiebreak="code", tiebreak_kind=str)
OFFERS_NEWEST = Sort("id", int, descending=True)


async def balance(conn: psycopg.AsyncConnection, card_no: str) -> int:
    """The card's stored value in fen (0 before its first movement)."""
    account = await ledger_views.account(conn, card_account(card_no).code)
    return 0 if account is None else int(account["balance"])


async def _balances(conn: psycopg.AsyncConnection, card_nos: list[str]) -> dict[str, int]:
    found = {}
    for card_no in card_nos:          # a page of cards: at most 100 short lookups by primary key
        found[card_no] = await balance(conn, card_no)
    return found


async def card(conn: psycopg.AsyncConnection, card_no: str) -> dict[str, Any] | None:
    """One card: what it is, its restrictions, its sub cards, and its balance."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(f"""SELECT {CARD_COLUMNS} FROM business.cards c  -- card
                              JOIN business.card_types t ON t.code = c.card_type WHERE c.card_no = %s""",  # noqa: S608
                          (card_no,))
        row = await cur.fetchone()
        if row is None:
            return None
        await cur.execute("SELECT card_no FROM business.cards WHERE main_card_no = %s ORDER BY card_no", (card_no,))
        subs = [r["card_no"] for r in await cur.fetchall()]
    return row | {"balance_fen": await balance(conn, card_no), "sub_cards": subs}


async def cards_of(conn: psycopg.AsyncConnection, member_no: str) -> list[dict[str, Any]]:
    """A member's cards (the 360° page): number, type, kind, status and balance, open ones first."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("""SELECT c.card_no, c.card_type, t.name AS type_name, t.kind, t.medium, c.status,
                                    c.main_card_no, c.issued_at
                             FROM business.cards c JOIN business.card_types t ON t.code = c.card_type
                             WHERE c.member_no = %s ORDER BY c.status = 'closed', c.issued_at, c.card_no""",
                          (member_no,))
        rows = await cur.fetchall()
    balances = await _balances(conn, [r["card_no"] for r in rows])
    return [r | {"balance_fen": balances[r["card_no"]]} for r in rows]


async def cards(conn: psycopg.AsyncConnection, *, scope: frozenset[str] | None, q: str = "", status: str = "",
                card_type: str = "", station: str = "", member_no: str = "", batch_no: str = "",
                limit: int = 20, after: After | None = None) -> tuple[list[dict[str, Any]], int, After | None]:
    """Cards matching the filters among the ``scope``'s stations (None: every station), newest first. ``q``: a
    whole card number, or its last digits."""
    sql = f"""SELECT {CARD_COLUMNS} FROM business.cards c JOIN business.card_types t ON t.code = c.card_type
              WHERE (%(q)s = '' OR c.card_no = %(q)s OR c.card_no LIKE '%%' || %(q)s)
                AND (%(status)s = '' OR c.status = %(status)s) AND (%(type)s = '' OR c.card_type = %(type)s)
                AND (%(station)s = '' OR c.station = %(station)s)
                AND (%(member)s = '' OR c.member_no = %(member)s) AND (%(batch)s = '' OR c.batch_no = %(batch)s)
                AND (%(scope)s::text[] IS NULL OR c.station = ANY(%(scope)s))"""  # noqa: S608 (our own columns)
    params = {"q": q if q.isdigit() else ("" if not q else "-"), "status": status, "type": card_type,
              "station": station, "member": member_no, "batch": batch_no,
              "scope": None if scope is None else sorted(scope)}
    rows, total, last = await keyset_page(conn, sql, params, NEWEST_FIRST, limit, after)
    balances = await _balances(conn, [r["card_no"] for r in rows])
    return [r | {"balance_fen": balances[r["card_no"]]} for r in rows], total, last


def type_of(row: dict[str, Any]) -> CardType:
    return CardType(row["code"], row["name"], Scope(row["scope"]), row["station"], row["named"],
                    Medium(row["medium"]), CardKind(row["kind"]), row["prefix"], row["length"],
                    Limits(row["daily_limit_fen"], row["litres_per_fill"], row["fills_per_day"]),
                    row["offline_limit_fen"], row["offline_daily_fen"])


async def card_types(conn: psycopg.AsyncConnection, *, scope: frozenset[str] | None, limit: int = 100,
                     after: After | None = None) -> tuple[list[dict[str, Any]], int, After | None]:
    """Types in code order: chain types and the single-station types of the ``scope``'s stations."""
    sql = """SELECT code, name, scope, station, named, medium, kind, prefix, length, next_serial, daily_limit_fen,
                    litres_per_fill, fills_per_day, offline_limit_fen, offline_daily_fen, created_by, created_at
             FROM business.card_types
             WHERE %(scope)s::text[] IS NULL OR station IS NULL OR station = ANY(%(scope)s)"""
    return await keyset_page(conn, sql, {"scope": None if scope is None else sorted(scope)}, BY_CODE, limit, after)


async def card_type(conn: psycopg.AsyncConnection, code: str) -> dict[str, Any] | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("SELECT * FROM business.card_types WHERE code = %s", (code,))
        return await cur.fetchone()


def offer_of(row: dict[str, Any]) -> Offer:
    return Offer(row["id"], row["name"], row["min_paid_fen"], row["bonus_fen"], row["starts_on"], row["ends_on"],
                 tuple(row["stations"]), tuple(row["card_types"]), row["active"])


async def offers_on(conn: psycopg.AsyncConnection, day: date) -> list[Offer]:
    """The active offers whose dates include ``day`` (``model.best_offer`` picks among them)."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("""SELECT * FROM business.card_recharge_offers
                             WHERE active AND starts_on <= %s AND ends_on >= %s ORDER BY id""", (day, day))
        return [offer_of(r) for r in await cur.fetchall()]


async def offers(conn: psycopg.AsyncConnection, *, active_on: date | None = None, limit: int = 50,
                 after: After | None = None) -> tuple[list[dict[str, Any]], int, After | None]:
    sql = """SELECT id, name, min_paid_fen, bonus_fen, starts_on, ends_on, stations, card_types, active, created_by,
                    created_at FROM business.card_recharge_offers
             WHERE %(day)s::date IS NULL OR (active AND starts_on <= %(day)s AND ends_on >= %(day)s)"""
    return await keyset_page(conn, sql, {"day": active_on}, OFFERS_NEWEST, limit, after)


async def recharges(conn: psycopg.AsyncConnection, card_no: str, limit: int = 50) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("""SELECT r.recharge_no, r.station, r.method, r.paid_fen, r.bonus_fen, o.name AS offer,
                                    r.recharged_by, r.recharged_at
                             FROM business.card_recharges r
                             LEFT JOIN business.card_recharge_offers o ON o.id = r.offer_id
                             WHERE r.card_no = %s ORDER BY r.recharged_at DESC LIMIT %s""", (card_no, limit))
        return list(await cur.fetchall())


async def payments(conn: psycopg.AsyncConnection, card_no: str, limit: int = 50) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("""SELECT station, payment_no, amount_fen, overdraft_fen, refunded_fen, grade, volume_l,
                                    offline, paid_at
                             FROM business.card_payments WHERE card_no = %s ORDER BY paid_at DESC LIMIT %s""",
                          (card_no, limit))
        return list(await cur.fetchall())


async def statement(conn: psycopg.AsyncConnection, card_no: str, *, limit: int = 50,
                    after: After | None = None) -> tuple[list[dict[str, Any]], int, After | None]:
    """The card account's postings, newest first (the ledger's statement of ``card:<card_no>``)."""
    return await ledger_views.statement(conn, card_account(card_no).code, after=after, limit=limit)
