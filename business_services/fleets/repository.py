"""SQL that writes (and locks) the fleets context's enterprise tables, in the caller's transaction; money moves
through the ledger (``business_services/ledger``)."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from business_services.fleets.model import code_of

#: what an enterprise's history records of it (before and after each change)
SNAPSHOT = ("name", "customer_code", "tax_no", "maintaining_station", "responsible_stations", "status", "contacts",
            "price_agreement", "group_id", "settlement", "credit_limit_fen", "credit_days", "statement_day",
            "warn_pct")


def snapshot(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in SNAPSHOT}


async def _one(conn: psycopg.AsyncConnection, sql: str, params: Any) -> dict[str, Any] | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(sql, params)
        return await cur.fetchone()


async def next_code(conn: psycopg.AsyncConnection) -> str:
    """The next enterprise code, under a transaction lock so two creations cannot take the same one."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('business.fleet_enterprises.code'))")
    row = await (await conn.execute("SELECT coalesce(max(substr(code, 2)::int), 0) FROM business.fleet_enterprises"
                                    )).fetchone()
    return code_of((int(row[0]) if row else 0) + 1)


def _value(name: str, value: Any) -> Any:
    return Jsonb(value) if name == "contacts" else value


async def insert_enterprise(conn: psycopg.AsyncConnection, code: str, profile: dict[str, Any], by: str) -> bool:
    """False when the customer code is taken."""
    names = ["code", *profile, "created_by"]
    values = [code, *(_value(k, v) for k, v in profile.items()), by]
    cur = await conn.execute(
        f"INSERT INTO business.fleet_enterprises ({', '.join(names)}) "  # noqa: S608 (our own names)
        f"VALUES ({', '.join(['%s'] * len(values))}) ON CONFLICT (customer_code) DO NOTHING RETURNING 1", values)
    return await cur.fetchone() is not None


async def enterprise(conn: psycopg.AsyncConnection, code: str, *, lock: bool = False) -> dict[str, Any] | None:
    """``lock``: FOR UPDATE (every change of an enterprise and every movement of its money takes it first)."""
    return await _one(conn, f"SELECT * FROM business.fleet_enterprises WHERE code = %s "  # noqa: S608
                            f"{'FOR UPDATE' if lock else ''}", (code,))


async def customer_code_taken(conn: psycopg.AsyncConnection, customer_code: str, code: str) -> bool:
    cur = await conn.execute("SELECT 1 FROM business.fleet_enterprises WHERE customer_code = %s AND code <> %s",
                             (customer_code, code))
    return await cur.fetchone() is not None


async def update_enterprise(conn: psycopg.AsyncConnection, code: str, changes: dict[str, Any]) -> None:
    if not changes:
        return
    columns = ", ".join(f"{name} = %({name})s" for name in changes)
    await conn.execute(f"UPDATE business.fleet_enterprises SET {columns}, updated_at = now() "  # noqa: S608
                       f"WHERE code = %(code)s", {k: _value(k, v) for k, v in changes.items()} | {"code": code})


async def add_change(conn: psycopg.AsyncConnection, code: str, kind: str, before: dict[str, Any] | None,
                     after: dict[str, Any], state: str, by: str, note: str = "") -> int:
    cur = await conn.execute(
        """INSERT INTO business.fleet_enterprise_changes (enterprise, kind, before, after, state, changed_by, note)
           VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id""",
        (code, kind, None if before is None else Jsonb(before), Jsonb(after), state, by, note))
    ((change_id,),) = await cur.fetchall()
    return int(change_id)


async def pending_change(conn: psycopg.AsyncConnection, code: str) -> dict[str, Any] | None:
    """The enterprise's change still waiting for review (its approval request pending and not expired)."""
    return await _one(conn, """SELECT c.* FROM business.fleet_enterprise_changes c
                               WHERE c.enterprise = %s AND c.state = 'pending'
                                 AND EXISTS (SELECT FROM business.approval_requests r
                                             WHERE r.kind = 'fleet.enterprise' AND r.status = 'pending'
                                               AND r.expires_at > now() AND r.payload->>'change_id' = c.id::text)
                               ORDER BY c.id LIMIT 1""", (code,))


async def change(conn: psycopg.AsyncConnection, change_id: int) -> dict[str, Any] | None:
    return await _one(conn, "SELECT * FROM business.fleet_enterprise_changes WHERE id = %s FOR UPDATE", (change_id,))


async def close_change(conn: psycopg.AsyncConnection, change_id: int, state: str, reviewer: str) -> None:
    await conn.execute("""UPDATE business.fleet_enterprise_changes SET state = %s, reviewed_by = %s,
                              reviewed_at = now() WHERE id = %s""", (state, reviewer, change_id))


async def insert_group(conn: psycopg.AsyncConnection, name: str, by: str) -> int | None:
    """The new group's id; None when the name is taken."""
    cur = await conn.execute("""INSERT INTO business.fleet_groups (name, created_by) VALUES (%s, %s)
                                ON CONFLICT (name) DO NOTHING RETURNING id""", (name, by))
    row = await cur.fetchone()
    return None if row is None else int(row[0])


async def group_exists(conn: psycopg.AsyncConnection, group_id: int) -> bool:
    cur = await conn.execute("SELECT 1 FROM business.fleet_groups WHERE id = %s", (group_id,))
    return await cur.fetchone() is not None


async def cards(conn: psycopg.AsyncConnection, card_nos: list[str]) -> dict[str, dict[str, Any]]:
    """The named fleet cards (locked, in number order: one lock order), by number."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("""SELECT card_no, enterprise, status, pays_from FROM business.fleet_cards
                             WHERE card_no = ANY(%s) ORDER BY card_no FOR UPDATE""", (card_nos,))
        return {r["card_no"]: r for r in await cur.fetchall()}


async def entry_moves(conn: psycopg.AsyncConnection, key: str, account: str) -> bool | None:
    """Whether the ledger entry of ``key`` posts to ``account`` (None: no such entry): a document number used
    again for another enterprise or card is told apart from a retry."""
    cur = await conn.execute("""SELECT bool_or(p.account = %s) FROM business.ledger_entries e
                                JOIN business.ledger_postings p ON p.entry_id = e.id
                                WHERE e.idempotency_key = %s""", (account, key))
    row = await cur.fetchone()
    return None if row is None or row[0] is None else bool(row[0])
