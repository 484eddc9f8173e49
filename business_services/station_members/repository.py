"""SQL of the station's members: the member list copy (apply a page, newest seq kept) and the card payments
this station took (``business.station_card_payments``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from telemetry.contracts.members import BlockedPlate, ListedCard, ListedFleetCard, ListedMember, ListPage


def _columns(item: ListedMember | ListedCard | ListedFleetCard | BlockedPlate | None
             ) -> tuple[str | None, str | None, str | None, list[str]]:
    """(member_no, phone_digest, qr_token, plates) of a listed item, for the lookups."""
    if isinstance(item, ListedMember):
        return item.member_no, item.phone_digest, item.qr_token, list(item.plates)
    if isinstance(item, ListedCard):
        return item.member_no, None, None, list(item.plates)
    if isinstance(item, ListedFleetCard):
        return None, None, None, [item.plate] if item.plate else []
    return None, None, None, []


async def hold_page(conn: psycopg.AsyncConnection, station: str, page: ListPage) -> int:
    """Apply ``page``: each change replaces its key's row only when newer (a replayed or older page changes
    nothing); the station's held seq moves to the page's ``next_after`` (never back). How many rows changed."""
    changed = 0
    for change in page.items:
        member_no, digest, qr, plates = _columns(change.item)
        cur = await conn.execute(
            """INSERT INTO business.station_member_list AS l
                   (kind, key, seq, item, member_no, phone_digest, qr_token, plates, at)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
               ON CONFLICT (kind, key) DO UPDATE SET seq = excluded.seq, item = excluded.item,
                   member_no = excluded.member_no, phone_digest = excluded.phone_digest,
                   qr_token = excluded.qr_token, plates = excluded.plates, at = excluded.at
               WHERE l.seq < excluded.seq""",
            (change.kind, change.key, change.seq,
             None if change.item is None else Jsonb(change.item.model_dump(mode="json")),
             member_no, digest, qr, plates, change.at))
        changed += cur.rowcount
    await conn.execute(
        """INSERT INTO business.station_member_list_held (station, held_seq, pulled_at) VALUES (%s, %s, now())
           ON CONFLICT (station) DO UPDATE SET held_seq = greatest(station_member_list_held.held_seq,
                                                                   excluded.held_seq), pulled_at = now()""",
        (station, page.next_after))
    return changed


async def held_seq(conn: psycopg.AsyncConnection, station: str) -> int:
    cur = await conn.execute("SELECT held_seq FROM business.station_member_list_held WHERE station = %s", (station,))
    row = await cur.fetchone()
    return int(row[0]) if row else 0


async def members_where(conn: psycopg.AsyncConnection, condition: str, value: Any) -> list[ListedMember]:
    """Listed members matching one of the fixed lookup conditions below (never input)."""
    cur = await conn.execute(
        f"""SELECT item FROM business.station_member_list
            WHERE kind = 'member' AND item IS NOT NULL AND {condition} ORDER BY key LIMIT 5""",  # noqa: S608
        (value,))
    return [ListedMember.model_validate(item) for (item,) in await cur.fetchall()]


BY_PHONE_DIGEST, BY_QR, BY_PLATE, BY_MEMBER_NO = "phone_digest = %s", "qr_token = %s", "plates @> ARRAY[%s]", \
    "key = %s"


async def card(conn: psycopg.AsyncConnection, card_no: str, *, lock: bool = False) -> ListedCard | None:
    """The listed card (None: not listed, or no longer); ``lock``: FOR UPDATE until the transaction ends."""
    query = "SELECT item FROM business.station_member_list WHERE kind = 'card' AND key = %s"
    cur = await conn.execute(query + (" FOR UPDATE" if lock else ""), (card_no,))
    row = await cur.fetchone()
    return None if row is None or row[0] is None else ListedCard.model_validate(row[0])


async def cards_of(conn: psycopg.AsyncConnection, member_no: str) -> list[ListedCard]:
    cur = await conn.execute(
        """SELECT item FROM business.station_member_list WHERE kind = 'card' AND member_no = %s
           AND item IS NOT NULL ORDER BY key""", (member_no,))
    return [ListedCard.model_validate(item) for (item,) in await cur.fetchall()]


async def blocked(conn: psycopg.AsyncConnection, plate: str) -> str | None:
    """Why ``plate`` is blacklisted, or None."""
    cur = await conn.execute(
        """SELECT item->>'reason' FROM business.station_member_list
           WHERE kind = 'blocked_plate' AND key = %s AND item IS NOT NULL""", (plate,))
    row = await cur.fetchone()
    return None if row is None else str(row[0])


# --- card payments --------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class CardPayment:
    payment_no: str
    station: str
    method: str
    card_no: str | None
    member_no: str | None
    amount_fen: int
    points_spent: int | None
    state: str
    offline: bool
    balance_fen: int | None
    message: str
    at: datetime


_PAYMENT = """payment_no, station, method, card_no, member_no, amount_fen, points_spent, state, offline,
              balance_fen, message, at"""


async def card_payment(conn: psycopg.AsyncConnection, payment_no: str) -> CardPayment | None:
    cur = await conn.execute(f"SELECT {_PAYMENT} FROM business.station_card_payments WHERE payment_no = %s",  # noqa: S608
                             (payment_no,))
    row = await cur.fetchone()
    return None if row is None else CardPayment(*row)


async def ask(conn: psycopg.AsyncConnection, p: CardPayment, day: date) -> CardPayment:
    """Write the payment 'asked' before head office is asked (a retry finds the first row)."""
    await conn.execute(
        f"""INSERT INTO business.station_card_payments ({_PAYMENT}, day)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (payment_no) DO NOTHING""",  # noqa: S608
        (p.payment_no, p.station, p.method, p.card_no, p.member_no, p.amount_fen, p.points_spent, p.state,
         p.offline, p.balance_fen, p.message, p.at, day))
    found = await card_payment(conn, p.payment_no)
    if found is None:
        raise LookupError(f"card payment {p.payment_no} was not written")
    return found


async def answered(conn: psycopg.AsyncConnection, payment_no: str, state: str, member_no: str | None,
                   balance_fen: int | None, message: str) -> None:
    """Head office's answer to an asked payment (a taken or refused one stays as it is)."""
    await conn.execute(
        """UPDATE business.station_card_payments SET state = %s, member_no = coalesce(%s, member_no),
               balance_fen = %s, message = %s WHERE payment_no = %s AND state = 'asked'""",
        (state, member_no, balance_fen, message, payment_no))


async def offline_spent(conn: psycopg.AsyncConnection, station: str, card_no: str, day: date) -> int:
    """What ``card_no`` paid offline at ``station`` on ``day`` (call with the card's row locked)."""
    cur = await conn.execute(
        """SELECT coalesce(sum(amount_fen), 0) FROM business.station_card_payments
           WHERE card_no = %s AND station = %s AND day = %s AND offline AND state = 'taken'""",
        (card_no, station, day))
    row = await cur.fetchone()
    return int(row[0]) if row else 0


# --- receipts -------------------------------------------------------------------------------------------

async def note_receipt(conn: psycopg.AsyncConnection, order_no: str, member_no: str, points_quoted: int | None,
                       points_balance: int | None, at: datetime) -> None:
    await conn.execute(
        """INSERT INTO business.station_member_receipts (order_no, member_no, points_quoted, points_balance, at)
           VALUES (%s, %s, %s, %s, %s)
           ON CONFLICT (order_no) DO UPDATE SET member_no = excluded.member_no,
               points_quoted = coalesce(excluded.points_quoted, station_member_receipts.points_quoted),
               points_balance = coalesce(excluded.points_balance, station_member_receipts.points_balance),
               at = excluded.at""",
        (order_no, member_no, points_quoted, points_balance, at))
