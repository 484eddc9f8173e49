"""A station server's audit chain goes up to head office, record by record, exactly once.

``ship`` hands the records after the last one shipped to the outbox as ``audit.recorded`` events and moves
the mark, in one transaction: a record is never skipped (the mark moves only with its event) and never sent
twice under two ids (its event id is the station and seq). The outbox publisher delivers them when the
link allows; head office keeps each station's copy (``handlers.py``). The station role runs
``ship_forever``.
"""

from __future__ import annotations

import asyncio
import logging

import psycopg

from business_services.audit.model import Actor
from business_services.unit_of_work import UnitOfWork
from telemetry.contracts.events.audit import AuditRecorded
from telemetry.contracts.topics import event_topic

log = logging.getLogger(__name__)

BATCH = 500


async def ship(conn: psycopg.AsyncConnection, station: str, group: str, limit: int = BATCH) -> int:
    """Hand up to ``limit`` unshipped records to the outbox; how many were handed."""
    async with UnitOfWork(conn, Actor.system("audit-shipping")) as uow:
        cur = await conn.execute("SELECT last_seq FROM business.audit_shipping FOR UPDATE")
        mark = await cur.fetchone()
        last = int(mark[0]) if mark else 0
        cur = await conn.execute(
            """SELECT seq, at, actor, actor_id, source, station, action, target, before, after, prev_hash, hash
               FROM business.audit_log WHERE seq > %s ORDER BY seq LIMIT %s""", (last, limit))
        rows = await cur.fetchall()
        for seq, at, actor, actor_id, source, concerns, action, target, before, after, prev_hash, digest in rows:
            record = AuditRecorded(station=station, seq=seq, at=at, actor=actor, actor_id=actor_id, source=source,
                                   concerns=concerns, action=action, target=target, before=before, after=after,
                                   prev_hash=bytes(prev_hash).hex(), hash=bytes(digest).hex())
            uow.emit(event_topic(group, station, record.TYPE),
                     record.envelope(source=f"station:{station}", event_id=record.event_id(), time=at))
        if rows:
            await conn.execute(
                """INSERT INTO business.audit_shipping (last_seq) VALUES (%s)
                   ON CONFLICT (only_row) DO UPDATE SET last_seq = excluded.last_seq""", (rows[-1][0],))
    return len(rows)


async def ship_forever(database_url: str, station: str, group: str, every_s: float = 2.0) -> None:
    """Ship whatever the chain gained, every ``every_s`` seconds, until cancelled; a database outage waits."""
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
                while True:
                    while await ship(conn, station, group) == BATCH:
                        pass
                    await asyncio.sleep(every_s)
        except psycopg.OperationalError as exc:
            log.warning("audit shipping paused, database unavailable: %s", exc)
            await asyncio.sleep(every_s)
