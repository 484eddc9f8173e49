"""SQL for ``business.event_dead_letters``: every event kept out of the books, with its raw bytes and why.

The payload is stored as ``bytea`` exactly as it arrived and every text column is sanitised first
(``intake.sanitised``), so the write cannot fail on the bytes that made the event a dead letter (a NUL,
an oversized id). Security dead letters (an event claiming another station than its topic) are the
security record: kept like the others, with ``kind = 'security'`` and both stations.
"""

from __future__ import annotations

import psycopg

from business_services.intake import Rejected, sanitised


async def keep(conn: psycopg.AsyncConnection, topic: str, raw: bytes, rejected: Rejected) -> None:
    async with conn.transaction():
        await conn.execute(
            """INSERT INTO business.event_dead_letters (topic, payload, error, kind, topic_station, claimed_station)
               VALUES (%s, %s, %s, %s, %s, %s)""",
            (sanitised(topic, 300), raw, sanitised(rejected.reason), rejected.kind, rejected.topic_station,
             rejected.claimed_station))


async def recent(conn: psycopg.AsyncConnection, limit: int = 50) -> list[dict[str, object]]:
    """The latest dead letters, newest first (payload as bytes)."""
    cur = await conn.execute(
        """SELECT id, received_at, kind, topic, topic_station, claimed_station, error, payload
           FROM business.event_dead_letters ORDER BY id DESC LIMIT %s""", (limit,))
    names = [c.name for c in cur.description or ()]
    return [dict(zip(names, row, strict=True)) for row in await cur.fetchall()]
