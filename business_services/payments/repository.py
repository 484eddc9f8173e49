"""SQL of the payments context. Each settle is a conditional UPDATE (pending → final): a second settle of the
same payment or refund finds no pending row and changes nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from business_services.numbers import NEXT, Kind, counter, next_where
from business_services.pages import After, Sort, keyset_page
from business_services.payments.model import TakePayment
from business_services.payments.providers import ChargeResult


@dataclass(frozen=True, slots=True)
class PaymentRow:
    payment_no: str
    station: str
    shift_no: str
    terminal: str
    cashier: str
    method: str
    amount_fen: int
    state: str
    provider_ref: str | None
    qr_code_url: str | None
    message: str
    refunded_fen: int
    created_at: datetime
    settled_at: datetime | None
    allocations: tuple[tuple[str, int, int], ...]      # (order_no, amount_fen, refunded_fen) in request order


_COLUMNS = """p.payment_no, p.station, p.shift_no, p.terminal, p.cashier, p.method, p.amount_fen, p.state,
    p.provider_ref, p.qr_code_url, p.message, p.refunded_fen, p.created_at, p.settled_at,
    (SELECT coalesce(json_agg(json_build_array(a.order_no, a.amount_fen, a.refunded_fen) ORDER BY a.position), '[]')
       FROM business.payment_allocations a WHERE a.payment_no = p.payment_no)"""


def _row(r: Any) -> PaymentRow:
    return PaymentRow(*[*r[:14], tuple((str(o), int(a), int(f)) for o, a, f in r[14])])


async def reserved(conn: psycopg.AsyncConnection, order_nos: list[str]) -> dict[str, int]:
    """What pending payments hold of each order (call with the orders locked)."""
    cur = await conn.execute(
        """SELECT a.order_no, sum(a.amount_fen) FROM business.payment_allocations a
           JOIN business.payments p USING (payment_no)
           WHERE a.order_no = ANY(%s) AND p.state = 'pending' GROUP BY a.order_no""", (order_nos,))
    return {str(o): int(fen) for o, fen in await cur.fetchall()}


_ADD = """WITH n AS ({next}),
                 p AS (INSERT INTO business.payments (payment_no, station, shift_no, terminal, cashier, method,
                           amount_fen, reference, note, created_at)
                       SELECT n.number, %(station)s, %(shift)s, %(terminal)s, %(cashier)s, %(method)s, %(fen)s,
                              %(reference)s, %(note)s, %(at)s FROM n
                       RETURNING payment_no),
                 a AS (INSERT INTO business.payment_allocations (payment_no, order_no, position, amount_fen)
                       SELECT p.payment_no, o, i, f FROM p,
                              unnest(%(orders)s::text[], %(shares)s::bigint[]) WITH ORDINALITY AS t(o, f, i))
            SELECT payment_no FROM p"""
_ADD_ALWAYS = _ADD.format(next=NEXT)
# the statement's own snapshot is taken with the orders already locked: it sees every pending payment of theirs
_ADD_UNLESS_RESERVED = _ADD.format(next=next_where(
    """NOT EXISTS (SELECT FROM business.payment_allocations a JOIN business.payments r USING (payment_no)
                   WHERE a.order_no = ANY(%(reserved_of)s) AND r.state = 'pending')"""))


async def add(conn: psycopg.AsyncConnection, command: TakePayment, shift_no: str, method: str, amount_fen: int,
              reference: str | None, note: str | None, allocations: tuple[tuple[str, int], ...]) -> str:
    """Write a pending payment and its allocations under the day's next payment number (one statement, so
    the day's counter, which every payment at the station takes, is held only from here to the commit)."""
    cur = await conn.execute(_ADD_ALWAYS, _add_params(command, shift_no, method, amount_fen, reference, note,
                                                      allocations))
    row = await cur.fetchone()
    if row is None:
        raise LookupError("the payment was not written")
    return str(row[0])


async def add_unless_reserved(conn: psycopg.AsyncConnection, order_nos: list[str], command: TakePayment,
                              shift_no: str, method: str, amount_fen: int, reference: str | None, note: str | None,
                              allocations: tuple[tuple[str, int], ...]) -> str | None:
    """``add``, only if none of ``order_nos`` (locked by the caller) has a pending payment: None, and no number
    taken, when one has (the caller allocated as if none had)."""
    cur = await conn.execute(_ADD_UNLESS_RESERVED, {**_add_params(command, shift_no, method, amount_fen, reference,
                                                                  note, allocations), "reserved_of": order_nos})
    row = await cur.fetchone()
    return None if row is None else str(row[0])


def _add_params(command: TakePayment, shift_no: str, method: str, amount_fen: int, reference: str | None,
                note: str | None, allocations: tuple[tuple[str, int], ...]) -> dict[str, Any]:
    return {**counter(command.station, Kind.PAYMENT, command.at), "shift": shift_no, "terminal": command.terminal,
            "cashier": command.cashier, "method": method, "fen": amount_fen, "reference": reference, "note": note,
            "at": command.at, "orders": [o for o, _ in allocations], "shares": [f for _, f in allocations]}


async def get(conn: psycopg.AsyncConnection, station: str, payment_no: str, *, lock: bool = False) -> PaymentRow | None:
    query = f"SELECT {_COLUMNS} FROM business.payments p WHERE p.station = %s AND p.payment_no = %s"  # noqa: S608 - fixed names
    cur = await conn.execute(query + (" FOR UPDATE OF p" if lock else ""), (station, payment_no))
    row = await cur.fetchone()
    return None if row is None else _row(row)


async def show_pending(conn: psycopg.AsyncConnection, payment_no: str, result: ChargeResult) -> None:
    """A charge still pending (a QR shown): keep what the provider said, for the POS to show."""
    await conn.execute("""UPDATE business.payments SET provider_ref = coalesce(%s, provider_ref),
                              qr_code_url = coalesce(%s, qr_code_url), message = %s
                          WHERE payment_no = %s AND state = 'pending'""",
                       (result.provider_ref, result.qr_code_url, result.message, payment_no))


async def settle(conn: psycopg.AsyncConnection, payment_no: str, state: str, result: ChargeResult,
                 at: datetime) -> PaymentRow | None:
    """pending → ``state``; None when it was no longer pending (settled already: nothing changes)."""
    cur = await conn.execute(
        f"""WITH s AS (UPDATE business.payments SET state = %s, provider_ref = coalesce(%s, provider_ref),
                           message = %s, settled_at = %s
                       WHERE payment_no = %s AND state = 'pending' RETURNING *)
            SELECT {_COLUMNS} FROM s AS p""",  # noqa: S608 - fixed names
        (state, result.provider_ref, result.message, at, payment_no))
    row = await cur.fetchone()
    return None if row is None else _row(row)


async def pending(conn: psycopg.AsyncConnection, station: str | None = None) -> list[tuple[str, str, str]]:
    """(station, payment_no, method) of every pending payment, oldest first."""
    cur = await conn.execute(
        """SELECT station, payment_no, method FROM business.payments
           WHERE state = 'pending' AND (%s::text IS NULL OR station = %s) ORDER BY created_at""", (station, station))
    return [(str(s), str(n), str(m)) for s, n, m in await cur.fetchall()]


NEWEST_FIRST = Sort("created_at", datetime, descending=True, tiebreak="payment_no", tiebreak_kind=str)


async def search(conn: psycopg.AsyncConnection, station: str, shift_no: str | None, method: str | None,
                 state: str | None, order_no: str | None, after: After | None,
                 limit: int) -> tuple[list[PaymentRow], int, After | None]:
    """The station's payments, newest first (keyset pages)."""
    query = f"""SELECT {_COLUMNS} AS allocations FROM business.payments p
                WHERE p.station = %(station)s AND (%(shift)s::text IS NULL OR p.shift_no = %(shift)s)
                  AND (%(method)s::text IS NULL OR p.method = %(method)s)
                  AND (%(state)s::text IS NULL OR p.state = %(state)s)
                  AND (%(order)s::text IS NULL OR EXISTS (SELECT 1 FROM business.payment_allocations a
                       WHERE a.payment_no = p.payment_no AND a.order_no = %(order)s))"""  # noqa: S608 - fixed names
    params = {"station": station, "shift": shift_no, "method": method, "state": state, "order": order_no}
    rows, total, last = await keyset_page(conn, query, params, NEWEST_FIRST, limit, after)
    return [_row(list(r.values())) for r in rows], total, last


async def of_order(conn: psycopg.AsyncConnection, station: str, order_no: str) -> list[tuple[str, int, str]]:
    """(method, fen applied to this order less refunded, payment_no) of the order's captured payments."""
    cur = await conn.execute(
        """SELECT p.method, a.amount_fen - a.refunded_fen, p.payment_no FROM business.payment_allocations a
           JOIN business.payments p USING (payment_no)
           WHERE p.station = %s AND a.order_no = %s AND p.state = 'succeeded' ORDER BY p.created_at, p.payment_no""",
        (station, order_no))
    return [(str(m), int(f), str(n)) for m, f, n in await cur.fetchall()]


# --- refunds -------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class RefundRow:
    refund_no: str
    payment_no: str
    station: str
    amount_fen: int
    state: str
    reason: str
    allocations: tuple[tuple[str, int], ...]
    approval_id: str | None
    requested_by: str
    executed_by: str | None
    provider_ref: str | None
    message: str
    created_at: datetime
    settled_at: datetime | None


_REFUND_COLUMNS = """refund_no, payment_no, station, amount_fen, state, reason, allocations, approval_id::text,
    requested_by, executed_by, provider_ref, message, created_at, settled_at"""


def _refund(r: Any) -> RefundRow:
    return RefundRow(r[0], r[1], r[2], int(r[3]), r[4], r[5], tuple((str(o), int(f)) for o, f in r[6]), *r[7:])


async def reserve_refund(conn: psycopg.AsyncConnection, payment_no: str, back: list[tuple[str, int]]) -> None:
    """Count a refund as refunded now (the CHECKs refuse more than was captured); released if it fails."""
    total = sum(f for _, f in back)
    await conn.execute("UPDATE business.payments SET refunded_fen = refunded_fen + %s WHERE payment_no = %s",
                       (total, payment_no))
    await conn.execute(
        """UPDATE business.payment_allocations a SET refunded_fen = a.refunded_fen + t.f
           FROM unnest(%s::text[], %s::bigint[]) AS t(o, f) WHERE a.payment_no = %s AND a.order_no = t.o""",
        ([o for o, _ in back], [f for _, f in back], payment_no))


async def release_refund(conn: psycopg.AsyncConnection, payment_no: str, back: tuple[tuple[str, int], ...]) -> None:
    await reserve_refund(conn, payment_no, [(o, -f) for o, f in back])


async def add_refund(conn: psycopg.AsyncConnection, refund: RefundRow) -> None:
    await conn.execute(
        """INSERT INTO business.payment_refunds (refund_no, payment_no, station, amount_fen, state, reason,
               allocations, approval_id, requested_by, created_at)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
        (refund.refund_no, refund.payment_no, refund.station, refund.amount_fen, refund.state, refund.reason,
         Jsonb([list(a) for a in refund.allocations]), refund.approval_id, refund.requested_by, refund.created_at))


async def get_refund(conn: psycopg.AsyncConnection, refund_no: str, *, lock: bool = False) -> RefundRow | None:
    cur = await conn.execute(f"SELECT {_REFUND_COLUMNS} FROM business.payment_refunds WHERE refund_no = %s"  # noqa: S608 - fixed names
                             + (" FOR UPDATE" if lock else ""), (refund_no,))
    row = await cur.fetchone()
    return None if row is None else _refund(row)


async def refunds_of(conn: psycopg.AsyncConnection, payment_no: str) -> list[RefundRow]:
    cur = await conn.execute(f"SELECT {_REFUND_COLUMNS} FROM business.payment_refunds WHERE payment_no = %s "  # noqa: S608 - fixed names
                             "ORDER BY created_at, refund_no", (payment_no,))
    return [_refund(r) for r in await cur.fetchall()]


async def approve_refund(conn: psycopg.AsyncConnection, refund_no: str, back: list[tuple[str, int]]) -> bool:
    cur = await conn.execute(
        """UPDATE business.payment_refunds SET state = 'pending', allocations = %s
           WHERE refund_no = %s AND state = 'awaiting_approval'""", (Jsonb([list(a) for a in back]), refund_no))
    return cur.rowcount == 1


async def settle_refund(conn: psycopg.AsyncConnection, refund_no: str, state: str, provider_ref: str | None,
                        message: str, by: str, at: datetime) -> RefundRow | None:
    cur = await conn.execute(
        f"""UPDATE business.payment_refunds SET state = %s, provider_ref = %s, message = %s, executed_by = %s,
                settled_at = %s
            WHERE refund_no = %s AND state = 'pending' RETURNING {_REFUND_COLUMNS}""",  # noqa: S608 - fixed names
        (state, provider_ref, message, by, at, refund_no))
    row = await cur.fetchone()
    return None if row is None else _refund(row)


async def pending_refunds(conn: psycopg.AsyncConnection, payment_no: str | None = None) -> list[tuple[str, str]]:
    """(refund_no, payment_no) of refunds approved (or needing none) but not yet carried out."""
    cur = await conn.execute("""SELECT refund_no, payment_no FROM business.payment_refunds
                                WHERE state = 'pending' AND (%s::text IS NULL OR payment_no = %s)
                                ORDER BY created_at""", (payment_no, payment_no))
    return [(str(r), str(p)) for r, p in await cur.fetchall()]


async def reject_refund(conn: psycopg.AsyncConnection, refund_no: str, at: datetime) -> int:
    cur = await conn.execute("""UPDATE business.payment_refunds SET state = 'rejected', settled_at = %s
                                WHERE refund_no = %s AND state = 'awaiting_approval'""", (at, refund_no))
    return cur.rowcount
