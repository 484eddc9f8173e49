"""SQL of IC cards: the station's grey locks; head office's grey list, loads and last purse reads.

Every change is conditional on the state it leaves (``WHERE state = …``), so a replayed step changes nothing
and says so (None / False).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import class_row, dict_row

from business_services.ic_cards.model import LockState
from telemetry.contracts.events.ic_cards import IcGreyRecorded, IcPurseRead


@dataclass(frozen=True, slots=True)
class Lock:
    card_no: str
    counter: int
    station: str
    reader: str
    insertion: int
    pump: str
    fuelling_point: int
    locked_at: datetime
    state: str
    order_no: str | None
    payment_no: str | None
    amount_fen: int | None
    tac: str | None
    settled_at: datetime | None
    reported: str | None


_LOCK = "SELECT * FROM business.ic_grey_locks"


async def _one(conn: psycopg.AsyncConnection, query: str, args: tuple[Any, ...]) -> Lock | None:
    async with conn.cursor(row_factory=class_row(Lock)) as cur:
        await cur.execute(query, args)
        return await cur.fetchone()


async def add_lock(conn: psycopg.AsyncConnection, lock: Lock) -> bool:
    cur = await conn.execute(
        """INSERT INTO business.ic_grey_locks (card_no, counter, station, reader, insertion, pump, fuelling_point,
               locked_at, state, order_no, payment_no, amount_fen)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (card_no, counter) DO NOTHING""",
        (lock.card_no, lock.counter, lock.station, lock.reader, lock.insertion, lock.pump, lock.fuelling_point,
         lock.locked_at, lock.state, lock.order_no, lock.payment_no, lock.amount_fen))
    return cur.rowcount == 1


async def get_lock(conn: psycopg.AsyncConnection, card_no: str, counter: int, *, lock: bool = False) -> Lock | None:
    return await _one(conn, _LOCK + " WHERE card_no = %s AND counter = %s" + (" FOR UPDATE" if lock else ""),
                      (card_no, counter))


async def lock_of_payment(conn: psycopg.AsyncConnection, payment_no: str) -> Lock | None:
    return await _one(conn, _LOCK + " WHERE payment_no = %s", (payment_no,))


async def lock_of_order(conn: psycopg.AsyncConnection, order_no: str) -> Lock | None:
    return await _one(conn, _LOCK + " WHERE order_no = %s", (order_no,))


async def open_lock_at(conn: psycopg.AsyncConnection, station: str, pump: str, fuelling_point: int) -> Lock | None:
    """The fuelling point's lock waiting for its fuelling (the newest, locked for the caller's transaction)."""
    return await _one(conn, _LOCK + """ WHERE station = %s AND pump = %s AND fuelling_point = %s AND state = 'locked'
                                        ORDER BY locked_at DESC LIMIT 1 FOR UPDATE""", (station, pump, fuelling_point))


async def due_locks(conn: psycopg.AsyncConnection, station: str) -> list[Lock]:
    async with conn.cursor(row_factory=class_row(Lock)) as cur:
        await cur.execute(_LOCK + " WHERE station = %s AND state = 'due' ORDER BY locked_at", (station,))
        return await cur.fetchall()


async def make_due(conn: psycopg.AsyncConnection, card_no: str, counter: int, order_no: str, amount_fen: int) -> bool:
    cur = await conn.execute(
        """UPDATE business.ic_grey_locks SET state = 'due', order_no = %s, amount_fen = %s
           WHERE card_no = %s AND counter = %s AND state = 'locked'""", (order_no, amount_fen, card_no, counter))
    return cur.rowcount == 1


async def set_payment(conn: psycopg.AsyncConnection, card_no: str, counter: int, payment_no: str) -> bool:
    cur = await conn.execute(
        """UPDATE business.ic_grey_locks SET payment_no = %s
           WHERE card_no = %s AND counter = %s AND payment_no IS NULL""", (payment_no, card_no, counter))
    return cur.rowcount == 1


async def moved(conn: psycopg.AsyncConnection, card_no: str, counter: int, reader: str, insertion: int) -> None:
    """The card of an open lock is now in ``reader`` (insertion ``insertion``)."""
    await conn.execute("""UPDATE business.ic_grey_locks SET reader = %s, insertion = %s
                          WHERE card_no = %s AND counter = %s AND state IN ('locked', 'due')""",
                       (reader, insertion, card_no, counter))


async def settle(conn: psycopg.AsyncConnection, card_no: str, counter: int, state: LockState, tac: str,
                 at: datetime) -> bool:
    """``debited`` or ``released``, once: False when it already was."""
    cur = await conn.execute(
        """UPDATE business.ic_grey_locks SET state = %s, tac = %s, settled_at = %s
           WHERE card_no = %s AND counter = %s AND state IN ('locked', 'due')""",
        (state.value, tac, at, card_no, counter))
    return cur.rowcount == 1


async def reported(conn: psycopg.AsyncConnection, card_no: str, counter: int, what: str) -> bool:
    """Mark the grey record sent up in this state; False when it was already."""
    cur = await conn.execute(
        """UPDATE business.ic_grey_locks SET reported = %s
           WHERE card_no = %s AND counter = %s AND reported IS DISTINCT FROM %s""", (what, card_no, counter, what))
    return cur.rowcount == 1


# ---- head office ------------------------------------------------------------------------------------------

async def record_grey(conn: psycopg.AsyncConnection, grey: IcGreyRecorded) -> None:
    """Keep a station's grey record; a later report adds what became known (never forgets it)."""
    await conn.execute(
        """INSERT INTO business.ic_grey_list (card_no, counter, station, pump, fuelling_point, locked_at, order_no,
               payment_no, amount_fen)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
           ON CONFLICT (card_no, counter) DO UPDATE SET
               order_no = coalesce(business.ic_grey_list.order_no, excluded.order_no),
               payment_no = coalesce(business.ic_grey_list.payment_no, excluded.payment_no),
               amount_fen = coalesce(business.ic_grey_list.amount_fen, excluded.amount_fen)""",
        (grey.card_no, grey.counter, grey.station, grey.pump, grey.fuelling_point, grey.locked_at, grey.order_no,
         grey.payment_no, grey.amount_fen))


async def grey_record(conn: psycopg.AsyncConnection, card_no: str, counter: int, *,
                      lock: bool = False) -> dict[str, Any] | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        query = "SELECT * FROM business.ic_grey_list WHERE card_no = %s AND counter = %s"
        await cur.execute(query + " FOR UPDATE" if lock else query, (card_no, counter))
        return await cur.fetchone()


async def settle_grey(conn: psycopg.AsyncConnection, card_no: str, counter: int, by: str, fen: int, tac: str | None,
                      at: datetime) -> bool:
    cur = await conn.execute(
        """UPDATE business.ic_grey_list SET state = 'settled', settled_by = %s, settled_fen = %s, settled_tac = %s,
               settled_at = %s WHERE card_no = %s AND counter = %s AND state = 'open'""",
        (by, fen, tac, at, card_no, counter))
    return cur.rowcount == 1


async def add_load(conn: psycopg.AsyncConnection, load_no: str, card_no: str, station: str, counter: int,
                   amount_fen: int, at: datetime, by: str) -> bool:
    cur = await conn.execute(
        """INSERT INTO business.ic_loads (load_no, card_no, station, counter, amount_fen, at, state, requested_by,
               updated_at) VALUES (%s, %s, %s, %s, %s, %s, 'authorised', %s, %s) ON CONFLICT DO NOTHING""",
        (load_no, card_no, station, counter, amount_fen, at, by, at))
    return cur.rowcount == 1


async def get_load(conn: psycopg.AsyncConnection, load_no: str, *, lock: bool = False) -> dict[str, Any] | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        query = "SELECT * FROM business.ic_loads WHERE load_no = %s"
        await cur.execute(query + " FOR UPDATE" if lock else query, (load_no,))
        return await cur.fetchone()


async def end_load(conn: psycopg.AsyncConnection, load_no: str, state: str, tac: str | None, at: datetime) -> bool:
    cur = await conn.execute(
        """UPDATE business.ic_loads SET state = %s, tac = %s, updated_at = %s
           WHERE load_no = %s AND state = 'authorised'""", (state, tac, at, load_no))
    return cur.rowcount == 1


async def purse_read(conn: psycopg.AsyncConnection, read: IcPurseRead) -> None:
    """Keep the newest read of a card's chip (by time)."""
    await conn.execute(
        """INSERT INTO business.ic_purse_reads (card_no, station, balance_fen, counter, grey, read_at)
           VALUES (%s, %s, %s, %s, %s, %s)
           ON CONFLICT (card_no) DO UPDATE SET station = excluded.station, balance_fen = excluded.balance_fen,
               counter = excluded.counter, grey = excluded.grey, read_at = excluded.read_at
           WHERE business.ic_purse_reads.read_at <= excluded.read_at""",
        (read.card_no, read.station, read.balance_fen, read.counter, read.grey, read.read_at))


async def shortfall(conn: psycopg.AsyncConnection, key: str, card_no: str, station: str, reference: str,
                    amount_fen: int, at: datetime) -> None:
    await conn.execute(
        """INSERT INTO business.ic_purse_shortfalls (idempotency_key, card_no, station, reference, amount_fen, at)
           VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING""",
        (key, card_no, station, reference, amount_fen, at))
