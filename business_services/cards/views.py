"""Read queries of cards, for the API and for other contexts: a card, a member's cards (the member 360° page),
card lists, types, offers, a card's recharges and payments. Balances come from the ledger's views."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

import psycopg
from psycopg.rows import dict_row
from pydantic import BaseModel, ConfigDict, Field, field_validator

from business_services.cards.model import (
    STATUS_NAMES,
    CardKind,
    CardType,
    Limits,
    Medium,
    Offer,
    Scope,
    Status,
    mask_card_no,
    mask_plate,
)
from business_services.cards.repository import CARD_COLUMNS
from business_services.exports.model import Column
from business_services.exports.model import Scope as StationScope
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


class CardFilter(BaseModel):
    """The card list's filters (the list page and its Excel export); all optional. ``q``: a whole card number,
    or its last digits."""

    model_config = ConfigDict(extra="ignore")    # the list's own cursor, limit and sort pass beside them
    q: Annotated[str, Field(pattern=r"^[0-9]{0,19}$", description="卡号或卡号后几位")] = ""
    status: Annotated[str, Field(pattern=r"^(active|frozen|lost|closed)?$")] = ""
    card_type: Annotated[str, Field(pattern=r"^[A-Za-z0-9-]{0,32}$")] = ""
    station: Annotated[str | None, Field(pattern=r"^[a-z0-9-]{1,32}$")] = None   # None: every station in scope
    member_no: Annotated[str, Field(pattern=r"^(M[0-9]{8,12})?$")] = ""
    batch_no: Annotated[str, Field(pattern=r"^[A-Za-z0-9:-]{0,64}$")] = ""

    @field_validator("station", mode="before")
    @classmethod
    def _any_station(cls, value: object) -> object:
        return None if value == "" else value     # the list page sends an empty filter as ""


def _query(f: CardFilter, scope: StationScope) -> tuple[str, dict[str, Any]]:
    sql = f"""SELECT {CARD_COLUMNS} FROM business.cards c JOIN business.card_types t ON t.code = c.card_type
              WHERE (%(q)s = '' OR c.card_no = %(q)s OR c.card_no LIKE '%%' || %(q)s)
                AND (%(status)s = '' OR c.status = %(status)s) AND (%(type)s = '' OR c.card_type = %(type)s)
                AND (%(station)s = '' OR c.station = %(station)s)
                AND (%(member)s = '' OR c.member_no = %(member)s) AND (%(batch)s = '' OR c.batch_no = %(batch)s)
                AND (%(scope)s::text[] IS NULL OR c.station = ANY(%(scope)s))"""  # noqa: S608 (our own columns)
    return sql, {"q": f.q, "status": f.status, "type": f.card_type, "station": f.station or "", "member": f.member_no,
                 "batch": f.batch_no, "scope": None if scope is None else sorted(scope)}


async def cards(conn: psycopg.AsyncConnection, f: CardFilter, scope: StationScope, *, limit: int = 20,
                after: After | None = None) -> tuple[list[dict[str, Any]], int, After | None]:
    """Cards matching the filters among the ``scope``'s stations (None: every station), newest first."""
    sql, params = _query(f, scope)
    rows_, total, last = await keyset_page(conn, sql, params, NEWEST_FIRST, limit, after)
    balances = await _balances(conn, [r["card_no"] for r in rows_])
    return [r | {"balance_fen": balances[r["card_no"]]} for r in rows_], total, last


COLUMNS = (Column("card_no", "卡号", 22), Column("type_name", "卡类型"), Column("status", "状态", 8),
           Column("member_no", "会员号", 14), Column("station", "发卡站点", 12), Column("balance", "余额（元）", 12),
           Column("overdraft", "离线透支（元）", 14), Column("plates", "限制车牌", 20),
           Column("batch_no", "批次", 22), Column("issued_at", "发卡时间", 20))


async def count(conn: psycopg.AsyncConnection, f: CardFilter, scope: StationScope) -> int:
    sql, params = _query(f, scope)
    cur = await conn.execute(f"SELECT count(*) FROM ({sql}) AS q", params)  # noqa: S608 (our own text)
    row = await cur.fetchone()
    return int(row[0]) if row else 0


async def rows(conn: psycopg.AsyncConnection, f: CardFilter, scope: StationScope,
               pii: bool) -> AsyncIterator[Mapping[str, Any]]:
    """Every matching card newest first, streamed (the Excel export; call inside a transaction), numbers and
    plates masked as on screen unless ``pii``; money in yuan."""
    sql, params = _query(f, scope)
    found: list[dict[str, Any]] = []
    async with conn.cursor(name="card_rows", row_factory=dict_row) as cur:
        cur.itersize = 2000
        await cur.execute(f"SELECT * FROM ({sql}) AS q ORDER BY issued_at DESC, card_no DESC", params)  # noqa: S608
        async for row in cur:
            found.append(row)
            if len(found) == 500:
                for done in await _exported(conn, found, pii):
                    yield done
                found = []
    for done in await _exported(conn, found, pii):
        yield done


async def _exported(conn: psycopg.AsyncConnection, found: list[dict[str, Any]], pii: bool) -> list[dict[str, Any]]:
    balances = await _balances(conn, [r["card_no"] for r in found])
    return [{"card_no": r["card_no"] if pii else mask_card_no(r["card_no"]), "type_name": r["type_name"],
             "status": STATUS_NAMES[Status(r["status"])], "member_no": r["member_no"], "station": r["station"],
             "balance": Decimal(balances[r["card_no"]]) / 100, "overdraft": Decimal(r["overdraft_fen"]) / 100,
             "plates": "、".join(p if pii else mask_plate(p) for p in r["plates"]), "batch_no": r["batch_no"],
             "issued_at": r["issued_at"]} for r in found]


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
