"""Verify the audit chain: stream it in seq order, recompute every hash and name the first broken row.

    verdict = await verify(conn)                 # the whole chain
    verdict = await verify(conn, from_seq=90001) # from a checkpoint: trusts row 90000, checks the rest
    verdict = await verify(conn, station="demo-01")  # head office's copy of a station server's chain

Rows come through a server-side cursor, so memory stays flat however long the chain is. The rules are
``model.check_row``. What no chain can show by itself: rows removed from the end. Keep the head that a
verification reports (``last_seq``, ``last_hash``) somewhere else, and a later head must extend it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import psycopg
from psycopg import sql

from business_services.audit.model import AuditRecord, Break, Link, check_row

BATCH = 5000


@dataclass(frozen=True, slots=True)
class Verdict:
    checked: int                   # rows checked
    last_seq: int | None           # the head of the chain as far as it is sound
    last_hash: bytes | None
    broken: Break | None
    row: AuditRecord | None = None  # the broken row (or the row after a deleted/inserted one), for its time and actor

    @property
    def ok(self) -> bool:
        return self.broken is None


def _chain(station: str | None) -> sql.Composed:
    """The rows of one chain: this database's own, or its copy of ``station``'s (the ``%s`` takes ``station``)."""
    if station is None:
        return sql.SQL("business.audit_log WHERE %s::text IS NULL").format()
    return sql.SQL("business.audit_station_copies WHERE origin = %s").format()


async def verify(conn: psycopg.AsyncConnection, from_seq: int = 1,
                 progress: Callable[[int, int], None] | None = None, station: str | None = None) -> Verdict:
    """Check rows ``from_seq`` onwards (the row before ``from_seq`` is the trusted anchor) of this database's
    chain, or of its copy of ``station``'s chain (head office).

    ``progress(done, total)`` is called every ``BATCH`` rows. Runs in one read-only snapshot.
    """
    chain = _chain(station)
    async with conn.transaction():
        await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        previous = before_previous = None
        if from_seq > 1:
            cur = await conn.execute(sql.SQL("SELECT seq, hash FROM {} AND seq < %s ORDER BY seq DESC LIMIT 2")
                                     .format(chain), (station, from_seq))
            anchors = [Link(seq, bytes(h)) for seq, h in await cur.fetchall()]
            previous = anchors[0] if anchors else None
            before_previous = anchors[1] if len(anchors) > 1 else None
        cur = await conn.execute(sql.SQL("SELECT count(*) FROM {} AND seq >= %s").format(chain), (station, from_seq))
        counted = await cur.fetchone()
        total = counted[0] if counted else 0
        checked = 0
        async with conn.cursor(name="audit_verify") as rows:
            rows.itersize = BATCH
            await rows.execute(
                sql.SQL("SELECT seq, at, actor, actor_id, source, station, action, target, before, after, prev_hash, "
                        "hash FROM {} AND seq >= %s ORDER BY seq").format(chain), (station, from_seq))
            async for row in rows:
                record = AuditRecord(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8], row[9],
                                     bytes(row[10]), bytes(row[11]))
                broken = check_row(record, previous, before_previous)
                if broken is not None:
                    return Verdict(checked, previous.seq if previous else None,
                                   previous.hash if previous else None, broken, record)
                before_previous, previous = previous, Link(record.seq, record.hash)
                checked += 1
                if progress is not None and checked % BATCH == 0:
                    progress(checked, total)
        return Verdict(checked, previous.seq if previous else None, previous.hash if previous else None, None)


def describe(verdict: Verdict) -> str:
    """The verdict for people, Chinese first."""
    broken = verdict.broken
    if broken is None:
        head = "空链 (the chain is empty)" if verdict.last_seq is None else \
            f"链头 (head) seq {verdict.last_seq} hash {verdict.last_hash.hex() if verdict.last_hash else ''}"
        return f"审计链完好 (audit chain intact): 已校验 {verdict.checked} 条 (rows checked); {head}"
    text = f"审计链已损坏 (audit chain broken) [{broken.kind}] seq {broken.seq}: {broken.reason}"
    if verdict.row is not None:
        r = verdict.row
        text += (f"\n  发现于 (found at) seq {r.seq}: 时间 (at) {r.at.isoformat()}, 操作人 (actor) {r.actor}, "
                 f"操作 (action) {r.action}, 对象 (target) {r.target}")
    return text + f"\n  此前 {verdict.checked} 条完好 (rows before it are sound)"
