"""A long, correctly chained audit log written fast (binary COPY, hashes computed here) for tests and benchmarks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
from psycopg.types.json import Jsonb

from business_services.audit.model import GENESIS, canonical, chain_hash, json_value

START = datetime(2026, 1, 1, tzinfo=UTC)
STATIONS = ("demo-01", "demo-02", "demo-03")
ACTIONS = ("auth.login", "price.change", "command.authorise", "refund.create")


def row(seq: int) -> tuple[object, ...]:
    """Row ``seq``'s fields except the hashes; deterministic so tests can spot-check them."""
    station = STATIONS[seq % len(STATIONS)]
    action = ACTIONS[seq % len(ACTIONS)]
    before, after = json_value({"price_fen": 800 + seq % 50}), json_value({"price_fen": 801 + seq % 50, "说明": "调价"})
    return (seq, START + timedelta(seconds=seq), f"user{seq % 7}", seq % 7, "10.0.0.1", station, action,
            f"{station}/92#{seq}", before, after)


async def write_chain(conn: psycopg.AsyncConnection, count: int, first: int = 1, prev: bytes = GENESIS) -> bytes:
    """Append rows ``first`` … ``first + count - 1``; returns the last hash. Commits."""
    async with conn.transaction(), conn.cursor() as cur, cur.copy(
            "COPY business.audit_log (seq, at, actor, actor_id, source, station, action, target, before, after, "
            "prev_hash, hash) FROM STDIN") as copy:
        for seq in range(first, first + count):
            fields = row(seq)
            digest = chain_hash(prev, canonical(*fields))  # type: ignore[arg-type]
            await copy.write_row((*fields[:8], Jsonb(fields[8]), Jsonb(fields[9]), prev, digest))
            prev = digest
    return prev
