"""SQL of drive-through attachments (``business.drive_through_attachments``), in one place."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import cast

import psycopg
from psycopg.rows import class_row

from telemetry.contracts.members import DriveThroughMethod


@dataclass(frozen=True, slots=True)
class Attachment:
    recognition_id: str
    station: str
    fuelling_point: int
    plate: str
    member_no: str | None            # None: a fleet vehicle card's plate (card_no is the fleet card)
    method: str
    card_no: str | None
    state: str
    order_no: str | None
    payment_no: str | None
    reason: str
    attached_at: datetime
    expires_at: datetime
    confirm: bool = False        # 每次确认: the order waits for the member's confirmation


_COLUMNS = ("recognition_id, station, fuelling_point, plate, member_no, method, card_no, state, order_no, payment_no, "
            "reason, attached_at, expires_at, confirm")


async def open_at(conn: psycopg.AsyncConnection, station: str, point: int, at: datetime,
                  seen_by: datetime | None = None) -> Attachment | None:
    """The position's attachment still open at ``at`` (locked until the transaction ends); ``seen_by``: only one
    made by then (a car recognised after a fuelling ended never pays for it)."""
    cur = conn.cursor(row_factory=class_row(Attachment))
    await cur.execute(
        f"""SELECT {_COLUMNS} FROM business.drive_through_attachments
            WHERE station = %s AND fuelling_point = %s AND state = 'attached' AND expires_at >= %s
                AND (%s::timestamptz IS NULL OR attached_at <= %s)
            FOR UPDATE""",  # noqa: S608
        (station, point, at, seen_by, seen_by))
    return await cur.fetchone()


async def close_open(conn: psycopg.AsyncConnection, station: str, point: int, reason: str, at: datetime) -> int:
    """Expire whatever attachment the position holds (lapsed, or replaced by another car)."""
    cur = await conn.execute(
        """UPDATE business.drive_through_attachments SET state = 'expired', reason = %s, closed_at = %s
           WHERE station = %s AND fuelling_point = %s AND state = 'attached'""",
        (reason, at, station, point))
    return cur.rowcount


async def attach(conn: psycopg.AsyncConnection, a: Attachment) -> bool:
    """Write ``a``; False when its recognition was written before (a redelivery)."""
    cur = await conn.execute(
        f"""INSERT INTO business.drive_through_attachments ({_COLUMNS})
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
            ON CONFLICT (recognition_id) DO NOTHING""",  # noqa: S608
        (a.recognition_id, a.station, a.fuelling_point, a.plate, a.member_no, a.method, a.card_no, a.state,
         a.order_no, a.payment_no, a.reason, a.attached_at, a.expires_at, a.confirm))
    return cur.rowcount == 1


async def make_due(conn: psycopg.AsyncConnection, recognition_id: str, order_no: str) -> None:
    await conn.execute("UPDATE business.drive_through_attachments SET state = 'due', order_no = %s "
                       "WHERE recognition_id = %s AND state = 'attached'", (order_no, recognition_id))


async def make_awaiting(conn: psycopg.AsyncConnection, recognition_id: str, order_no: str, until: datetime) -> None:
    """每次确认: the order waits for the member's answer until ``until`` (the confirmation window)."""
    await conn.execute("UPDATE business.drive_through_attachments SET state = 'awaiting', order_no = %s, "
                       "expires_at = %s WHERE recognition_id = %s AND state = 'attached'",
                       (order_no, until, recognition_id))


async def awaiting(conn: psycopg.AsyncConnection, station: str | None = None) -> list[Attachment]:
    """The orders waiting for their members' confirmation (of ``station``, or every one)."""
    cur = conn.cursor(row_factory=class_row(Attachment))
    await cur.execute(
        f"""SELECT {_COLUMNS} FROM business.drive_through_attachments
            WHERE state = 'awaiting' AND (%s::text IS NULL OR station = %s) ORDER BY attached_at LIMIT 100""",  # noqa: S608
        (station, station))
    return await cur.fetchall()


async def settle(conn: psycopg.AsyncConnection, recognition_id: str, state: str, reason: str, at: datetime) -> int:
    """An awaiting order answered: ``due`` (confirmed: paid as any) or ``cashier`` with the reason; 0 when it was
    not awaiting any more (nothing changes twice)."""
    cur = await conn.execute(
        """UPDATE business.drive_through_attachments
           SET state = %s, reason = %s, closed_at = CASE WHEN %s = 'cashier' THEN %s::timestamptz END
           WHERE recognition_id = %s AND state = 'awaiting'""", (state, reason, state, at, recognition_id))
    return cur.rowcount


async def has_order(conn: psycopg.AsyncConnection, order_no: str) -> bool:
    cur = await conn.execute("SELECT 1 FROM business.drive_through_attachments WHERE order_no = %s", (order_no,))
    return await cur.fetchone() is not None


async def due(conn: psycopg.AsyncConnection, station: str | None = None) -> list[Attachment]:
    cur = conn.cursor(row_factory=class_row(Attachment))
    await cur.execute(
        f"""SELECT {_COLUMNS} FROM business.drive_through_attachments
            WHERE state = 'due' AND (%s::text IS NULL OR station = %s) ORDER BY attached_at""",  # noqa: S608
        (station, station))
    return await cur.fetchall()


async def get(conn: psycopg.AsyncConnection, station: str, recognition_id: str, *,
              lock: bool = False) -> Attachment | None:
    cur = conn.cursor(row_factory=class_row(Attachment))
    await cur.execute(
        f"""SELECT {_COLUMNS} FROM business.drive_through_attachments
            WHERE station = %s AND recognition_id = %s""" + (" FOR UPDATE" if lock else ""),  # noqa: S608
        (station, recognition_id))
    return await cur.fetchone()


async def close(conn: psycopg.AsyncConnection, recognition_id: str, state: str, reason: str, at: datetime,
                payment_no: str | None = None) -> int:
    """Move a due (or attached) row to ``state``; 0 when it was closed already (nothing changes twice)."""
    cur = await conn.execute(
        """UPDATE business.drive_through_attachments
           SET state = %s, reason = %s, closed_at = %s, payment_no = coalesce(%s, payment_no)
           WHERE recognition_id = %s AND state IN ('attached', 'due')""",
        (state, reason, at, payment_no, recognition_id))
    return cur.rowcount


async def paid_by(conn: psycopg.AsyncConnection, order_no: str, terminal: str) -> str | None:
    """The succeeded payment ``terminal`` took of the order (what a crash left unrecorded on its row)."""
    cur = await conn.execute(
        """SELECT p.payment_no FROM business.payments p JOIN business.payment_allocations a USING (payment_no)
           WHERE a.order_no = %s AND p.terminal = %s AND p.state = 'succeeded' ORDER BY p.created_at LIMIT 1""",
        (order_no, terminal))
    row = await cur.fetchone()
    return None if row is None else str(row[0])


async def fleet_auth_of(conn: psycopg.AsyncConnection, recognition_id: str) -> str | None:
    """The fleet authorisation made to pay this attachment's order (migrations/0004_fleet_cards.sql)."""
    cur = await conn.execute("SELECT fleet_auth_no FROM business.drive_through_attachments WHERE recognition_id = %s",
                             (recognition_id,))
    row = await cur.fetchone()
    return None if row is None or row[0] is None else str(row[0])


async def fleet_authorised(conn: psycopg.AsyncConnection, recognition_id: str, auth_no: str) -> None:
    await conn.execute("UPDATE business.drive_through_attachments SET fleet_auth_no = %s WHERE recognition_id = %s",
                       (auth_no, recognition_id))


async def undo(conn: psycopg.AsyncConnection, recognition_id: str, reason: str, at: datetime) -> int:
    cur = await conn.execute(
        """UPDATE business.drive_through_attachments SET state = 'undone', reason = %s, closed_at = %s
           WHERE recognition_id = %s AND state <> 'undone'""", (reason, at, recognition_id))
    return cur.rowcount


async def expire(conn: psycopg.AsyncConnection, at: datetime) -> int:
    """Attachments past their window, closed (the job's sweep; open_at already ignores them)."""
    cur = await conn.execute(
        """UPDATE business.drive_through_attachments SET state = 'expired', closed_at = %s,
               reason = '超过关联时限未加油 (no fuelling within the attach window)'
           WHERE state = 'attached' AND expires_at < %s""", (at, at))
    return cur.rowcount


async def of_day(conn: psycopg.AsyncConnection, station: str, since: datetime, limit: int) -> list[Attachment]:
    """The station's attachments made since ``since`` (the start of its day), newest first, in every state: what
    the POS shows on its fuelling positions and in its list of the day's drive-through sales."""
    cur = conn.cursor(row_factory=class_row(Attachment))
    await cur.execute(
        f"""SELECT {_COLUMNS} FROM business.drive_through_attachments
            WHERE station = %s AND attached_at >= %s ORDER BY attached_at DESC LIMIT %s""",  # noqa: S608
        (station, since, limit))
    return await cur.fetchall()


# --- head office: each member's choice ----------------------------------------------------------------------

async def setting(conn: psycopg.AsyncConnection, member_no: str) -> tuple[DriveThroughMethod, str | None]:
    """(method, card_no) the member chose; ("off", None) without a row."""
    cur = await conn.execute("SELECT method, card_no FROM business.drive_through_settings WHERE member_no = %s",
                             (member_no,))
    row = await cur.fetchone()
    return ("off", None) if row is None else (cast(DriveThroughMethod, row[0]), row[1])


async def choose(conn: psycopg.AsyncConnection, member_no: str, method: str, card_no: str | None, by: str,
                 at: datetime) -> None:
    await conn.execute(
        """INSERT INTO business.drive_through_settings (member_no, method, card_no, updated_by, updated_at)
           VALUES (%s, %s, %s, %s, %s)
           ON CONFLICT (member_no) DO UPDATE SET method = excluded.method, card_no = excluded.card_no,
               updated_by = excluded.updated_by, updated_at = excluded.updated_at""",
        (member_no, method, card_no, by, at))


async def members_card(conn: psycopg.AsyncConnection, member_no: str, card_no: str) -> str | None:
    """The status of the member's own card ``card_no`` (None: no such card of theirs)."""
    cur = await conn.execute("SELECT status FROM business.cards WHERE card_no = %s AND member_no = %s",
                             (card_no, member_no))
    row = await cur.fetchone()
    return None if row is None else str(row[0])


async def confirms(conn: psycopg.AsyncConnection, member_no: str) -> bool:
    """每次确认: whether the member confirms each drive-through order on the H5 first (False without a row)."""
    cur = await conn.execute("SELECT confirm FROM business.drive_through_settings WHERE member_no = %s", (member_no,))
    row = await cur.fetchone()
    return bool(row and row[0])


async def set_confirm(conn: psycopg.AsyncConnection, member_no: str, confirm: bool) -> None:
    """The member's 每次确认 beside the method ``choose`` wrote (its row exists)."""
    await conn.execute("UPDATE business.drive_through_settings SET confirm = %s WHERE member_no = %s",
                       (confirm, member_no))
