"""SQL of the customers' login codes (``business.customer_login_codes``), in one place."""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg
from psycopg.rows import class_row

from business_services.customers.model import SentCode

KEPT = timedelta(days=1)      # login codes (and the phones on them) are deleted after a day


async def lock_phone(conn: psycopg.AsyncConnection, group: str, phone: str) -> None:
    """Until this transaction ends, no other code request or login of this phone runs (two taps at once)."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('customer-login/' || %s || '/' || %s))",
                       (group, phone))


async def sent_since(conn: psycopg.AsyncConnection, group: str, phone: str, since: datetime) -> list[datetime]:
    cur = await conn.execute("SELECT sent_at FROM business.customer_login_codes WHERE company_group = %s "
                             "AND phone = %s AND sent_at > %s", (group, phone, since))
    return [row[0] for row in await cur.fetchall()]


async def add(conn: psycopg.AsyncConnection, group: str, phone: str, salt: bytes, digest: bytes, sent_at: datetime,
              expires_at: datetime) -> int:
    cur = await conn.execute(
        """INSERT INTO business.customer_login_codes (company_group, phone, salt, digest, sent_at, expires_at)
           VALUES (%s, %s, %s, %s, %s, %s) RETURNING id""", (group, phone, salt, digest, sent_at, expires_at))
    row = await cur.fetchone()
    if row is None:
        raise LookupError("INSERT … RETURNING gave no row")
    return int(row[0])


async def latest(conn: psycopg.AsyncConnection, group: str, phone: str) -> SentCode | None:
    """The phone's newest code (an earlier one is superseded by it)."""
    cur = conn.cursor(row_factory=class_row(SentCode))
    await cur.execute(
        """SELECT id, salt, digest, sent_at, expires_at, attempts, used_at FROM business.customer_login_codes
           WHERE company_group = %s AND phone = %s ORDER BY sent_at DESC, id DESC LIMIT 1""", (group, phone))
    return await cur.fetchone()


async def count_attempt(conn: psycopg.AsyncConnection, code_id: int) -> None:
    await conn.execute("UPDATE business.customer_login_codes SET attempts = attempts + 1 WHERE id = %s", (code_id,))


async def use(conn: psycopg.AsyncConnection, code_id: int, at: datetime) -> None:
    await conn.execute("UPDATE business.customer_login_codes SET used_at = %s WHERE id = %s", (at, code_id))


async def withdraw(conn: psycopg.AsyncConnection, code_id: int) -> None:
    """A code whose SMS could not be sent: gone, so it neither logs in nor counts against the phone's limit."""
    await conn.execute("DELETE FROM business.customer_login_codes WHERE id = %s", (code_id,))


async def forget_old(conn: psycopg.AsyncConnection) -> int:
    """The job ``forget_old_login_codes``: codes older than ``KEPT``, deleted."""
    cur = await conn.execute("DELETE FROM business.customer_login_codes WHERE sent_at < now() - %s", (KEPT,))
    return cur.rowcount
