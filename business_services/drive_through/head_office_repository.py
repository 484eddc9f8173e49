"""SQL of 每次确认 and the members' notices at head office (``business.drive_through_confirmations``,
``business.drive_through_pushes``), in one place (docs/h5.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from telemetry.contracts.events.drive_through import DriveThroughAwaiting

QUEUE = "notifications"            # the notifications' queue: every business worker takes it (jobs.QUEUES)
PUSH_TASK = "drive_through.push"


@dataclass(frozen=True, slots=True)
class Confirmation:
    recognition_id: str
    station: str
    fuelling_point: int
    order_no: str
    member_no: str
    plate: str
    method: str
    card_no: str | None
    grade: int
    volume_l: Decimal
    amount_fen: int
    fuelled_at: datetime
    expires_at: datetime
    state: str
    decided_at: datetime | None


@dataclass(frozen=True, slots=True)
class Push:
    key: str
    kind: str
    member_no: str
    station: str
    reference: str
    amount_fen: int
    card_no: str | None
    state: str
    attempts: int


_CONFIRMATION = ("recognition_id, station, fuelling_point, order_no, member_no, plate, method, card_no, grade, "
                 "volume_l, amount_fen, fuelled_at, expires_at, state, decided_at")
_PUSH = "key, kind, member_no, station, reference, amount_fen, card_no, state, attempts"


async def keep(conn: psycopg.AsyncConnection, w: DriveThroughAwaiting) -> bool:
    """The awaiting order, once per recognition; False when it was kept before (a redelivery)."""
    cur = await conn.execute(
        f"""INSERT INTO business.drive_through_confirmations ({_CONFIRMATION})
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'awaiting', NULL)
            ON CONFLICT (recognition_id) DO NOTHING""",  # noqa: S608
        (w.recognition_id, w.station, w.fuelling_point, w.order_no, w.member_no, w.plate, w.method, w.card_no,
         w.grade, w.volume_l, w.amount_fen, w.fuelled_at, w.expires_at))
    return cur.rowcount == 1


async def confirmation(conn: psycopg.AsyncConnection, recognition_id: str, *, lock: bool = False
                       ) -> Confirmation | None:
    cur = conn.cursor(row_factory=class_row(Confirmation))
    await cur.execute(f"SELECT {_CONFIRMATION} FROM business.drive_through_confirmations "  # noqa: S608
                      "WHERE recognition_id = %s" + (" FOR UPDATE" if lock else ""), (recognition_id,))
    return await cur.fetchone()


async def of_member(conn: psycopg.AsyncConnection, member_no: str, now: datetime, limit: int = 20
                    ) -> list[Confirmation]:
    """The member's orders still waiting for their answer (the H5's 待确认), newest first."""
    cur = conn.cursor(row_factory=class_row(Confirmation))
    await cur.execute(f"""SELECT {_CONFIRMATION} FROM business.drive_through_confirmations
                          WHERE member_no = %s AND state = 'awaiting' AND expires_at > %s
                          ORDER BY fuelled_at DESC LIMIT %s""", (member_no, now, limit))  # noqa: S608
    return await cur.fetchall()


async def answers(conn: psycopg.AsyncConnection, station: str, recognition_ids: list[str]) -> list[tuple[str, str]]:
    """(recognition id, state) of the station's confirmations among ``recognition_ids``."""
    cur = await conn.execute("SELECT recognition_id, state FROM business.drive_through_confirmations "
                             "WHERE station = %s AND recognition_id = ANY(%s)", (station, recognition_ids))
    return [(str(r[0]), str(r[1])) for r in await cur.fetchall()]


async def decide(conn: psycopg.AsyncConnection, recognition_id: str, state: str, at: datetime) -> int:
    cur = await conn.execute("UPDATE business.drive_through_confirmations SET state = %s, decided_at = %s, "
                             "link_digest = NULL WHERE recognition_id = %s AND state = 'awaiting'",
                             (state, at, recognition_id))
    return cur.rowcount


async def set_link(conn: psycopg.AsyncConnection, recognition_id: str, digest: bytes) -> None:
    """The digest of the link's token in the notice being sent (the one before it stops opening the page)."""
    await conn.execute("UPDATE business.drive_through_confirmations SET link_digest = %s WHERE recognition_id = %s",
                       (digest, recognition_id))


async def by_link(conn: psycopg.AsyncConnection, digest: bytes, now: datetime) -> Confirmation | None:
    """The awaiting confirmation a link's token opens (None: unknown, answered or expired)."""
    cur = conn.cursor(row_factory=class_row(Confirmation))
    await cur.execute(f"""SELECT {_CONFIRMATION} FROM business.drive_through_confirmations
                          WHERE link_digest = %s AND state = 'awaiting' AND expires_at > %s""",  # noqa: S608
                      (digest, now))
    return await cur.fetchone()


# --- the notices --------------------------------------------------------------------------------------

async def defer(conn: psycopg.AsyncConnection, key: str, at: datetime | None = None) -> None:
    """The push job of ``key``, in this transaction (rolled back with it, never lost once committed)."""
    await conn.execute("INSERT INTO procrastinate_jobs (queue_name, task_name, args, scheduled_at) "
                       "VALUES (%s, %s, %s, coalesce(%s, now()))", (QUEUE, PUSH_TASK, Jsonb({"key": key}), at))


async def add_push(conn: psycopg.AsyncConnection, kind: str, reference: str, member_no: str, station: str,
                   amount_fen: int, card_no: str | None) -> bool:
    """One notice per (kind, reference) and its job; False when it exists (a redelivered event)."""
    key = f"{kind}/{reference}"
    cur = await conn.execute(
        """INSERT INTO business.drive_through_pushes (key, kind, member_no, station, reference, amount_fen, card_no)
           VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (key) DO NOTHING""",
        (key, kind, member_no, station, reference, amount_fen, card_no))
    if cur.rowcount == 1:
        await defer(conn, key)
    return cur.rowcount == 1


async def claim(conn: psycopg.AsyncConnection, key: str, now: datetime, stuck_s: int = 600) -> Push | None:
    """The notice to send now (attempts counted), if pending, or sending for longer than ``stuck_s`` (its worker
    died between the provider's answer and the record of it)."""
    cur = conn.cursor(row_factory=class_row(Push))
    await cur.execute(
        f"""UPDATE business.drive_through_pushes SET state = 'sending', attempts = attempts + 1, claimed_at = %s
            WHERE key = %s AND (state = 'pending'
                                OR (state = 'sending' AND claimed_at < %s - make_interval(secs => %s)))
            RETURNING {_PUSH}""", (now, key, now, stuck_s))  # noqa: S608
    return await cur.fetchone()


async def finish(conn: psycopg.AsyncConnection, key: str, state: str, *, channel: str | None = None,
                 provider_id: str | None = None, error: str = "", at: datetime | None = None) -> None:
    await conn.execute(
        """UPDATE business.drive_through_pushes SET state = %s, channel = coalesce(%s, channel),
               provider_id = coalesce(%s, provider_id), last_error = %s, sent_at = %s WHERE key = %s""",
        (state, channel, provider_id, error[:300], at, key))


async def pushes_of(conn: psycopg.AsyncConnection, reference: str) -> list[dict[str, Any]]:
    cur = await conn.execute("SELECT key, state, channel, attempts FROM business.drive_through_pushes "
                             "WHERE reference = %s ORDER BY key", (reference,))
    return [{"key": r[0], "state": r[1], "channel": r[2], "attempts": r[3]} for r in await cur.fetchall()]
