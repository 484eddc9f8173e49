"""SQL of the audit chain: append a record linked to the last one (one writer at a time); keep a station's copy."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
from psycopg.types.json import Jsonb

from business_services.audit.model import GENESIS, Actor, AuditEntry, canonical, chain_hash, json_value
from telemetry.contracts.events.audit import AuditRecorded

CHAIN_LOCK = 0x41554454  # "AUDT": appends take it for their transaction, so the chain never forks


async def append(conn: psycopg.AsyncConnection, actor: Actor, entry: AuditEntry) -> int:
    """Append ``entry`` in the caller's transaction; returns its seq. It commits or rolls back with the action."""
    await conn.execute("SELECT pg_advisory_xact_lock(%s)", (CHAIN_LOCK,))
    cur = await conn.execute("SELECT seq, hash FROM business.audit_log ORDER BY seq DESC LIMIT 1")
    last = await cur.fetchone()
    seq, prev = (last[0] + 1, bytes(last[1])) if last else (1, GENESIS)
    at = datetime.now(UTC)
    before, after = json_value(entry.before), json_value(entry.after)
    digest = chain_hash(prev, canonical(seq, at, actor.name, actor.user_id, actor.source, entry.station,
                                        entry.action, entry.target, before, after))
    await conn.execute(
        """INSERT INTO business.audit_log (seq, at, actor, actor_id, source, station, action, target, before, after,
                                           prev_hash, hash)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
        (seq, at, actor.name, actor.user_id, actor.source, entry.station, entry.action, entry.target,
         None if before is None else Jsonb(before), None if after is None else Jsonb(after), prev, digest))
    return seq


async def keep_station_copy(conn: psycopg.AsyncConnection, r: AuditRecorded) -> bool:
    """Keep a station server's record as it hashed it; False when that station's seq is already kept."""
    cur = await conn.execute(
        """INSERT INTO business.audit_station_copies (origin, seq, at, actor, actor_id, source, station, action,
               target, before, after, prev_hash, hash)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (origin, seq) DO NOTHING""",
        (r.station, r.seq, r.at, r.actor, r.actor_id, r.source, r.concerns, r.action, r.target,
         None if r.before is None else Jsonb(r.before), None if r.after is None else Jsonb(r.after),
         bytes.fromhex(r.prev_hash), bytes.fromhex(r.hash)))
    return cur.rowcount == 1
