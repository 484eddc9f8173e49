"""A member's points move: the ledger account ``points:<member_no>`` and the member's lots, kept equal.

Every function here runs in the caller's transaction under the member's lock (``repository.lock_members``)
and keeps one invariant: the ledger balance of ``points:<member_no>`` equals the sum of the member's lots'
``remaining``. An award posts its entry and makes a lot (after paying any points debt first); spending first
expires the member's due lots, then posts its entry (the ledger's CHECK refuses a balance below zero: a clear
``PointsRefused``), then draws lots oldest expiry first. Each entry's idempotency key makes a replay post
nothing and change nothing (the functions return None then).
"""

from __future__ import annotations

from datetime import datetime

import psycopg

from business_services.ledger import repository as ledger
from business_services.ledger.model import Entry, points_expiry_entry, points_reversal_entry
from business_services.points import repository
from business_services.points.model import Lot, PointsRefused, Settings, draw, expires_at


async def award(conn: psycopg.AsyncConnection, entry: Entry, member_no: str, points: int, *, source: str,
                at: datetime, settings: Settings, station: str | None = None,
                expiry: datetime | None = None) -> int | None:
    """Post ``entry`` (``points`` into the member's account) and make its lot, expiring at ``expiry`` or by the
    settings; a points debt is paid from it first. The lot's id, or None on a replay."""
    await repository.lock_members(conn, member_no)
    if await ledger.post(conn, entry) is None:
        return None
    settle = min(await repository.owed(conn, member_no), points)
    if settle:
        await ledger.post(conn, points_reversal_entry(f"points.debt-paid:{entry.idempotency_key}", member_no, settle,
                                                      at, entry.reference, station))
        await repository.change_debt(conn, member_no, -settle, "debt-paid", entry.idempotency_key)
    return await repository.add_lot(conn, member_no, points, points - settle, source, entry.idempotency_key, station,
                                    at, expiry or expires_at(at, settings))


async def spend(conn: psycopg.AsyncConnection, entry: Entry, member_no: str, points: int, at: datetime,
                first_lot: int | None = None) -> list[tuple[Lot, int]] | None:
    """Post ``entry`` (``points`` out of the member's account) and draw them from the lots (``first_lot`` first,
    then oldest expiry first): the lots drawn and how much of each, None on a replay."""
    await repository.lock_members(conn, member_no)
    await expire_member(conn, member_no, at)
    lots = await repository.open_lots(conn, member_no)
    available = sum(lot.remaining for lot in lots)
    try:
        posted = await ledger.post_within_balance(conn, entry)   # refused: the rest of the work goes on
    except ledger.Overdrawn as refused:
        raise PointsRefused(f"积分不足：可用 {available}，需要 {points} "
                            f"(not enough points: {available} available, {points} needed)") from refused
    if posted is None:
        return None
    taken = draw(lots, points, first_lot)
    for lot, n in taken:
        await repository.take_from_lot(conn, lot.id, n)
    return taken


async def available(conn: psycopg.AsyncConnection, member_no: str, at: datetime) -> tuple[int, list[Lot]]:
    """The member's spendable points now and their lots (under the member's lock, due lots expired first)."""
    await repository.lock_members(conn, member_no)
    await expire_member(conn, member_no, at)
    lots = await repository.open_lots(conn, member_no)
    return sum(lot.remaining for lot in lots), lots


async def expire_member(conn: psycopg.AsyncConnection, member_no: str, now: datetime) -> int:
    """Expire what is left of the member's lots past their date (the member's lock is held): points expired."""
    total = 0
    for lot in await repository.due_lots(conn, member_no, now):
        entry = points_expiry_entry(f"points.expired:lot:{lot.id}", member_no, lot.remaining, lot.expires_at,
                                    f"lot {lot.id}")
        if await ledger.post(conn, entry) is not None:
            await repository.take_from_lot(conn, lot.id, lot.remaining, expired=True)
            total += lot.remaining
    return total


async def expire_due(conn: psycopg.AsyncConnection, now: datetime) -> int:
    """Every member's due lots (the daily job): points expired. Two runs at once expire each lot once: each
    member is expired under the member's lock, and the ledger key is the lot's. Every member's lock is taken
    before the first posting: a posting holds the shared accounts' rows (``points:expired``) to the end of the
    transaction, and waiting for a member's lock while holding them could deadlock with that member's spend."""
    due = await repository.members_with_due_lots(conn, now)
    await repository.lock_members(conn, *due)
    return sum([await expire_member(conn, member_no, now) for member_no in due])
