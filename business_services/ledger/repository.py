"""SQL that writes the ledger: an entry, its postings and the balances they move, in the caller's transaction."""

from __future__ import annotations

import psycopg

from business_services.ledger.model import Entry


async def post(conn: psycopg.AsyncConnection, entry: Entry) -> int | None:
    """The new entry's id; None when an entry with this idempotency key is already posted (nothing changes)."""
    cur = await conn.execute(
        """INSERT INTO business.ledger_entries (idempotency_key, kind, station, reference, memo, occurred_at)
           VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (idempotency_key) DO NOTHING RETURNING id""",
        (entry.idempotency_key, entry.kind, entry.station, entry.reference, entry.memo, entry.occurred_at))
    row = await cur.fetchone()
    if row is None:
        return None
    entry_id = int(row[0])
    postings = sorted(entry.postings, key=lambda p: p.account.code)   # one lock order: no deadlocks
    async with conn.cursor() as many:
        await many.executemany(
            """INSERT INTO business.ledger_accounts (code, name, kind, unit, station, may_go_negative)
               VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (code) DO NOTHING""",
            [(p.account.code, p.account.name, p.account.kind.value, p.account.unit.value, p.account.station,
              p.account.may_go_negative) for p in postings])
        await many.executemany(
            "INSERT INTO business.ledger_postings (entry_id, account, amount, unit) VALUES (%s, %s, %s, %s)",
            [(entry_id, p.account.code, p.amount, p.account.unit.value) for p in postings])
        await many.executemany(
            """UPDATE business.ledger_accounts
               SET balance = balance + CASE WHEN kind IN ('asset', 'expense') THEN %s ELSE -%s END
               WHERE code = %s""",
            [(p.amount, p.amount, p.account.code) for p in postings])
    return entry_id
