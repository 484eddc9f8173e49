"""The member list's change feed at head office (``telemetry/contracts/members.py``).

Members, cards and vehicles call ``record`` in the same transaction as the change itself (so a rolled-back
change is never listed and a committed one always is); stations read ``page``. Only the newest change of a
key matters to a station, so ``page`` skips the superseded ones and ``compact`` may delete them.
"""

from __future__ import annotations

import psycopg
from psycopg.types.json import Jsonb

from telemetry.contracts.members import BlockedPlate, ListChange, ListedCard, ListedFleetCard, ListedMember, ListPage

Item = ListedMember | ListedCard | ListedFleetCard | BlockedPlate
_KIND = {ListedMember: "member", ListedCard: "card", ListedFleetCard: "fleet_card", BlockedPlate: "blocked_plate"}
PAGE_LIMIT = 1000


def _key(item: Item) -> str:
    if isinstance(item, ListedMember):
        return item.member_no
    return item.card_no if isinstance(item, ListedCard | ListedFleetCard) else item.plate


async def record(conn: psycopg.AsyncConnection, item: Item) -> int:
    """List ``item`` as it is now (a new or changed member, card or blocked plate); the change's seq."""
    return await _append(conn, _KIND[type(item)], _key(item), Jsonb(item.model_dump(mode="json")))


async def unlist(conn: psycopg.AsyncConnection, kind: str, key: str) -> int:
    """``key`` is no longer listed (a closed card, an erased member, an unblocked plate); the change's seq."""
    return await _append(conn, kind, key, None)


async def _append(conn: psycopg.AsyncConnection, kind: str, key: str, item: Jsonb | None) -> int:
    cur = await conn.execute(
        "INSERT INTO business.member_list_changes (kind, key, item) VALUES (%s, %s, %s) RETURNING seq",
        (kind, key, item))
    ((seq,),) = await cur.fetchall()
    return int(seq)


async def page(conn: psycopg.AsyncConnection, station: str, after: int, limit: int = PAGE_LIMIT) -> ListPage:
    """The changes after ``after`` (the newest of each key only), and the station's position recorded.

    A card restricted to other stations is listed to this one as unlisted (``item`` None), so a station
    never holds a card it may not take."""
    limit = max(1, min(limit, PAGE_LIMIT))
    await conn.execute(
        """INSERT INTO business.member_list_stations (station, held_seq) VALUES (%s, %s)
           ON CONFLICT (station) DO UPDATE SET held_seq = greatest(member_list_stations.held_seq, excluded.held_seq),
                                               pulled_at = now()""", (station, after))
    cur = await conn.execute(
        """SELECT c.seq, c.kind, c.key, c.item, c.at FROM business.member_list_changes c
           WHERE c.seq > %s AND NOT EXISTS (SELECT 1 FROM business.member_list_changes n
                                            WHERE n.kind = c.kind AND n.key = c.key AND n.seq > c.seq)
           ORDER BY c.seq LIMIT %s""", (after, limit + 1))
    rows = await cur.fetchall()
    more = len(rows) > limit
    changes = []
    for seq, kind, key, item, at in rows[:limit]:
        if item is not None and kind == "card" and item.get("stations") and station not in item["stations"]:
            item = None
        changes.append(ListChange.model_validate({"seq": seq, "kind": kind, "key": key, "item": item, "at": at}))
    return ListPage(items=tuple(changes), next_after=changes[-1].seq if changes else after, more=more)


async def compact(conn: psycopg.AsyncConnection) -> int:
    """Delete the changes a newer change of the same key supersedes (a job may run it nightly); how many."""
    cur = await conn.execute(
        """DELETE FROM business.member_list_changes c USING business.member_list_changes n
           WHERE n.kind = c.kind AND n.key = c.key AND n.seq > c.seq""")
    return cur.rowcount
