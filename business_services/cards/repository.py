"""SQL that writes the cards context's tables (the caller's transaction; money moves through the ledger)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from business_services.cards.commands import IssueCards, PayByCard
from business_services.cards.model import CardType, Offer, Restrictions, Usage, day_start

CARD_COLUMNS = """c.id, c.card_no, c.card_type, c.station, c.status, c.frozen_for, c.member_no, c.main_card_no,
    c.linked_card_no, c.replaced_by, c.plates, c.grades, c.stations, c.daily_limit_fen, c.litres_per_fill,
    c.fills_per_day, c.overdraft_fen, c.batch_no, c.issued_by, c.issued_at, c.closed_at,
    t.name AS type_name, t.named, t.medium, t.kind, t.scope, t.offline_limit_fen, t.offline_daily_fen"""


async def _one(conn: psycopg.AsyncConnection, sql: str, params: Sequence[Any]) -> dict[str, Any] | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(sql, params)
        return await cur.fetchone()


async def insert_type(conn: psycopg.AsyncConnection, t: CardType, by: str) -> bool:
    """False when the code (or the prefix) is taken."""
    cur = await conn.execute(
        """INSERT INTO business.card_types (code, name, scope, station, named, medium, kind, prefix, length,
               daily_limit_fen, litres_per_fill, fills_per_day, offline_limit_fen, offline_daily_fen, created_by)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING 1""",
        (t.code, t.name, t.scope.value, t.station, t.named, t.medium.value, t.kind.value, t.prefix, t.length,
         t.limits.daily_limit_fen, t.limits.litres_per_fill, t.limits.fills_per_day, t.offline_limit_fen,
         t.offline_daily_fen, by))
    return await cur.fetchone() is not None


async def lock_type(conn: psycopg.AsyncConnection, code: str) -> dict[str, Any] | None:
    return await _one(conn, "SELECT * FROM business.card_types WHERE code = %s FOR UPDATE", (code,))


async def take_serials(conn: psycopg.AsyncConnection, code: str, first: int, count: int) -> None:
    await conn.execute("UPDATE business.card_types SET next_serial = greatest(next_serial, %s) WHERE code = %s",
                       (first + count, code))


async def taken(conn: psycopg.AsyncConnection, card_nos: list[str]) -> list[str]:
    cur = await conn.execute("SELECT card_no FROM business.cards WHERE card_no = ANY(%s) ORDER BY card_no",
                             (card_nos,))
    return [r[0] for r in await cur.fetchall()]


async def insert_cards(conn: psycopg.AsyncConnection, card_nos: list[str], c: IssueCards, station: str,
                       r: Restrictions, batch_no: str | None) -> None:
    async with conn.cursor() as cur:
        await cur.executemany(
            """INSERT INTO business.cards (card_no, card_type, station, status, member_no, main_card_no, plates,
                   grades, stations, daily_limit_fen, litres_per_fill, fills_per_day, batch_no, issued_by, issued_at)
               VALUES (%s, %s, %s, 'active', %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
            [(n, c.card_type, station, c.member_no, c.main_card_no, list(r.plates), list(r.grades),
              list(r.stations), r.limits.daily_limit_fen, r.limits.litres_per_fill, r.limits.fills_per_day,
              batch_no, c.by, c.at) for n in card_nos])


async def card(conn: psycopg.AsyncConnection, card_no: str, *, lock: bool = False) -> dict[str, Any] | None:
    """The card with its type's facts; ``lock``: FOR UPDATE of the card row (every change of a card and every
    payment with it takes this lock first, so its checks and its ledger entry see one state)."""
    return await _one(conn, f"""SELECT {CARD_COLUMNS} FROM business.cards c  -- the card and its type
                                JOIN business.card_types t ON t.code = c.card_type
                                WHERE c.card_no = %s {"FOR UPDATE OF c" if lock else ""}""",  # noqa: S608 (our text)
                      (card_no,))


async def update_card(conn: psycopg.AsyncConnection, card_no: str, **changes: Any) -> None:
    columns = ", ".join(f"{name} = %({name})s" for name in changes)
    await conn.execute(f"UPDATE business.cards SET {columns} WHERE card_no = %(card_no)s",  # noqa: S608 (our names)
                       changes | {"card_no": card_no})


async def move_sub_cards(conn: psycopg.AsyncConnection, old_main: str, new_main: str) -> list[str]:
    """A replaced main card's sub cards now hang on its replacement; their numbers."""
    cur = await conn.execute("UPDATE business.cards SET main_card_no = %s WHERE main_card_no = %s RETURNING card_no",
                             (new_main, old_main))
    return sorted(r[0] for r in await cur.fetchall())


async def open_sub_cards(conn: psycopg.AsyncConnection, card_no: str) -> int:
    cur = await conn.execute("SELECT count(*) FROM business.cards WHERE main_card_no = %s AND status <> 'closed'",
                             (card_no,))
    row = await cur.fetchone()
    return int(row[0]) if row else 0


async def insert_offer(conn: psycopg.AsyncConnection, o: Offer, by: str) -> int:
    cur = await conn.execute(
        """INSERT INTO business.card_recharge_offers (name, min_paid_fen, bonus_fen, starts_on, ends_on, stations,
               card_types, active, created_by) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id""",
        (o.name, o.min_paid_fen, o.bonus_fen, o.starts_on, o.ends_on, list(o.stations), list(o.card_types),
         o.active, by))
    ((offer_id,),) = await cur.fetchall()
    return int(offer_id)


async def set_offer_active(conn: psycopg.AsyncConnection, offer_id: int, active: bool) -> dict[str, Any] | None:
    """The offer before the change (None: no such offer)."""
    before = await _one(conn, "SELECT * FROM business.card_recharge_offers WHERE id = %s FOR UPDATE", (offer_id,))
    if before is not None:
        await conn.execute("UPDATE business.card_recharge_offers SET active = %s WHERE id = %s", (active, offer_id))
    return before


async def insert_recharge(conn: psycopg.AsyncConnection, recharge_no: str, card_no: str, station: str, method: str,
                          shift_no: str | None, paid_fen: int, bonus_fen: int, offer_id: int | None, by: str,
                          at: datetime) -> bool:
    """False when the recharge number is already recorded (a retry)."""
    cur = await conn.execute(
        """INSERT INTO business.card_recharges (recharge_no, card_no, station, method, shift_no, paid_fen,
               bonus_fen, offer_id, recharged_by, recharged_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
           ON CONFLICT (recharge_no) DO NOTHING RETURNING 1""",
        (recharge_no, card_no, station, method, shift_no, paid_fen, bonus_fen, offer_id, by, at))
    return await cur.fetchone() is not None


async def recharge(conn: psycopg.AsyncConnection, recharge_no: str) -> dict[str, Any] | None:
    return await _one(conn, "SELECT * FROM business.card_recharges WHERE recharge_no = %s", (recharge_no,))


async def usage_today(conn: psycopg.AsyncConnection, card_no: str, at: datetime) -> Usage:
    """What the card paid since the start of ``at``'s day (China), less nothing for refunds: a refunded fill
    still counts as a fill, its amount no longer."""
    cur = await conn.execute(
        """SELECT coalesce(sum(amount_fen - refunded_fen), 0), count(*) FROM business.card_payments
           WHERE card_no = %s AND paid_at >= %s""", (card_no, day_start(at)))
    row = await cur.fetchone()
    return Usage(int(row[0]), int(row[1])) if row else Usage()


async def insert_payment(conn: psycopg.AsyncConnection, c: PayByCard, offline: bool, overdraft_fen: int = 0) -> bool:
    """False when the station's payment is already recorded (a retry, or the online payment's own event)."""
    cur = await conn.execute(
        """INSERT INTO business.card_payments (station, payment_no, card_no, amount_fen, overdraft_fen, grade,
               volume_l, plate, offline, paid_at, refunded_fen)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s,
                   (SELECT least(%s, coalesce(sum(amount_fen), 0)) FROM business.card_refunds  -- reported first
                    WHERE station = %s AND payment_no = %s))
           ON CONFLICT (station, payment_no) DO NOTHING RETURNING 1""",
        (c.station, c.payment_no, c.card_no, c.amount_fen, overdraft_fen, c.grade, c.volume_l, c.plate, offline,
         c.at, c.amount_fen, c.station, c.payment_no))
    return await cur.fetchone() is not None


async def payment(conn: psycopg.AsyncConnection, station: str, payment_no: str, *,
                  lock: bool = False) -> dict[str, Any] | None:
    return await _one(conn, f"""SELECT * FROM business.card_payments  -- a payment
                                WHERE station = %s AND payment_no = %s {"FOR UPDATE" if lock else ""}""",  # noqa: S608
                      (station, payment_no))


async def insert_refund(conn: psycopg.AsyncConnection, station: str, refund_no: str, payment_no: str, card_no: str,
                        amount_fen: int, at: datetime) -> bool:
    """False when the refund is already recorded; a known payment's refunded amount grows with it."""
    cur = await conn.execute(
        """INSERT INTO business.card_refunds (station, refund_no, payment_no, card_no, amount_fen, refunded_at)
           VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING 1""",
        (station, refund_no, payment_no, card_no, amount_fen, at))
    if await cur.fetchone() is None:
        return False
    await conn.execute("""UPDATE business.card_payments SET refunded_fen = least(amount_fen, refunded_fen + %s)
                          WHERE station = %s AND payment_no = %s""", (amount_fen, station, payment_no))
    return True


async def refund(conn: psycopg.AsyncConnection, station: str, refund_no: str) -> dict[str, Any] | None:
    return await _one(conn, "SELECT * FROM business.card_refunds WHERE station = %s AND refund_no = %s",
                      (station, refund_no))


async def card_no_of(conn: psycopg.AsyncConnection, card_id: int) -> str | None:
    cur = await conn.execute("SELECT card_no FROM business.cards WHERE id = %s", (card_id,))
    row = await cur.fetchone()
    return None if row is None else str(row[0])
