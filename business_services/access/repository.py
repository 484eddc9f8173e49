"""SQL of people and access: org units, users with their roles and scope, API keys, the login log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import dict_row

from business_services.access.model import LoginState, OrgUnit


@dataclass(frozen=True, slots=True)
class UserRow:
    id: int
    username: str
    display_name: str
    phone: str | None
    password_hash: str
    disabled: bool
    state: LoginState
    token_version: int
    roles: frozenset[str]


async def add_unit(conn: psycopg.AsyncConnection, kind: str, code: str, name: str, parent_id: int | None) -> int:
    """The unit's id; an existing code keeps its row (its name is updated)."""
    cur = await conn.execute(
        """INSERT INTO business.access_org_units (kind, code, name, parent_id) VALUES (%s, %s, %s, %s)
           ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name RETURNING id""", (kind, code, name, parent_id))
    return await _id(cur)


async def _id(cur: psycopg.AsyncCursor[tuple[int]] | psycopg.AsyncCursor[tuple[object, ...]]) -> int:
    row = await cur.fetchone()
    if row is None:
        raise RuntimeError("INSERT … RETURNING id returned no row")
    return int(str(row[0]))


async def units(conn: psycopg.AsyncConnection, codes: list[str] | None = None) -> list[OrgUnit]:
    cur = await conn.execute(
        "SELECT id, kind, code, name, parent_id FROM business.access_org_units "
        "WHERE %(codes)s::text[] IS NULL OR code = ANY(%(codes)s) ORDER BY id", {"codes": codes})
    return [OrgUnit(*row) for row in await cur.fetchall()]


async def user_units(conn: psycopg.AsyncConnection, user_id: int) -> list[OrgUnit]:
    cur = await conn.execute(
        """SELECT u.id, u.kind, u.code, u.name, u.parent_id FROM business.access_org_units u
           JOIN business.access_user_units uu ON uu.unit_id = u.id WHERE uu.user_id = %s ORDER BY u.id""",
        (user_id,))
    return [OrgUnit(*row) for row in await cur.fetchall()]


async def user_by_name(conn: psycopg.AsyncConnection, username: str, *, lock: bool = False) -> UserRow | None:
    return await _user(conn, "u.username = %s", username, lock)


async def user_by_id(conn: psycopg.AsyncConnection, user_id: int, *, lock: bool = False) -> UserRow | None:
    return await _user(conn, "u.id = %s", user_id, lock)


async def _user(conn: psycopg.AsyncConnection, where: str, value: object, lock: bool) -> UserRow | None:
    cur = await conn.execute(
        f"""SELECT u.id, u.username, u.display_name, u.phone, u.password_hash, u.disabled, u.failed_count,
                   u.last_failed_at, u.locked_until, u.token_version,
                   ARRAY(SELECT role FROM business.access_user_roles r WHERE r.user_id = u.id)
            FROM business.access_users u WHERE {where} {"FOR UPDATE" if lock else ""}""",  # noqa: S608 (fixed text)
        (value,))
    row = await cur.fetchone()
    if row is None:
        return None
    return UserRow(row[0], row[1], row[2], row[3], row[4], row[5], LoginState(row[6], row[7], row[8]), row[9],
                   frozenset(row[10]))


async def insert_user(conn: psycopg.AsyncConnection, username: str, display_name: str, phone: str | None,
                      password_hash: str) -> int | None:
    """The new user's id; None when the user name is taken."""
    cur = await conn.execute(
        """INSERT INTO business.access_users (username, display_name, phone, password_hash)
           VALUES (%s, %s, %s, %s) ON CONFLICT (username) DO NOTHING RETURNING id""",
        (username, display_name, phone, password_hash))
    row = await cur.fetchone()
    return None if row is None else int(row[0])


async def update_profile(conn: psycopg.AsyncConnection, user_id: int, display_name: str, phone: str | None,
                         disabled: bool) -> None:
    await conn.execute("UPDATE business.access_users SET display_name = %s, phone = %s, disabled = %s WHERE id = %s",
                       (display_name, phone, disabled, user_id))


async def revoke_tokens(conn: psycopg.AsyncConnection, user_id: int) -> None:
    """Every token issued to the user so far stops working (its version is behind)."""
    await conn.execute("UPDATE business.access_users SET token_version = token_version + 1 WHERE id = %s", (user_id,))


async def token_state(conn: psycopg.AsyncConnection, user_id: int) -> tuple[int, bool] | None:
    """(token version, disabled) of the user; None when there is no such user."""
    cur = await conn.execute("SELECT token_version, disabled FROM business.access_users WHERE id = %s", (user_id,))
    row = await cur.fetchone()
    return None if row is None else (int(row[0]), bool(row[1]))


async def set_roles(conn: psycopg.AsyncConnection, user_id: int, roles: list[str]) -> None:
    await conn.execute("DELETE FROM business.access_user_roles WHERE user_id = %s", (user_id,))
    async with conn.cursor() as cur:
        await cur.executemany("INSERT INTO business.access_user_roles (user_id, role) VALUES (%s, %s)",
                              [(user_id, role) for role in roles])


async def set_units(conn: psycopg.AsyncConnection, user_id: int, unit_ids: list[int]) -> None:
    await conn.execute("DELETE FROM business.access_user_units WHERE user_id = %s", (user_id,))
    async with conn.cursor() as cur:
        await cur.executemany("INSERT INTO business.access_user_units (user_id, unit_id) VALUES (%s, %s)",
                              [(user_id, unit) for unit in unit_ids])


async def set_password(conn: psycopg.AsyncConnection, user_id: int, password_hash: str) -> None:
    await conn.execute("UPDATE business.access_users SET password_hash = %s, token_version = token_version + 1 "
                       "WHERE id = %s", (password_hash, user_id))


async def save_login_state(conn: psycopg.AsyncConnection, user_id: int, state: LoginState) -> None:
    await conn.execute("UPDATE business.access_users SET failed_count = %s, last_failed_at = %s, locked_until = %s "
                       "WHERE id = %s", (state.failed_count, state.last_failed_at, state.locked_until, user_id))


async def stations_of(conn: psycopg.AsyncConnection, user_id: int) -> frozenset[str] | None:
    """The user's station codes; None when the user reaches every station."""
    cur = await conn.execute("SELECT station FROM business.access_user_stations WHERE user_id = %s", (user_id,))
    codes = {row[0] for row in await cur.fetchall()}
    return None if "*" in codes else frozenset(codes)


async def log_login(conn: psycopg.AsyncConnection, username: str, user_id: int | None, source: str,
                    user_agent: str, result: str, at: datetime) -> None:
    await conn.execute(
        "INSERT INTO business.access_login_log (at, username, user_id, source, user_agent, result) "
        "VALUES (%s, %s, %s, %s, %s, %s)", (at, username[:64], user_id, source, user_agent[:256], result))


async def insert_api_key(conn: psycopg.AsyncConnection, prefix: str, digest: bytes, partner: str,
                         permissions: list[str], stations: list[str] | None, created_by: str) -> int:
    cur = await conn.execute(
        """INSERT INTO business.access_api_keys (prefix, digest, partner, permissions, stations, created_by)
           VALUES (%s, %s, %s, %s, %s, %s) RETURNING id""",
        (prefix, digest, partner, permissions, stations, created_by))
    return await _id(cur)


async def api_key(conn: psycopg.AsyncConnection, prefix: str) -> dict[str, object] | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("SELECT id, prefix, digest, partner, permissions, stations, revoked_at "
                          "FROM business.access_api_keys WHERE prefix = %s", (prefix,))
        return await cur.fetchone()


async def revoke_api_key(conn: psycopg.AsyncConnection, key_id: int, at: datetime) -> dict[str, object] | None:
    """The revoked key's row; None when no such key or it was revoked before."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("UPDATE business.access_api_keys SET revoked_at = %s WHERE id = %s AND revoked_at IS NULL "
                          "RETURNING id, prefix, partner, stations", (at, key_id))
        return await cur.fetchone()


IDEMPOTENCY_KEPT = "24 hours"   # a retry comes within minutes; a day covers a client that was offline overnight


async def forget_old_idempotency_keys(conn: psycopg.AsyncConnection) -> int:
    """Delete Idempotency-Keys (control_api/idempotency.py) older than ``IDEMPOTENCY_KEPT``; how many."""
    cur = await conn.execute("DELETE FROM business.api_idempotency WHERE created_at < now() - %s::interval",
                             (IDEMPOTENCY_KEPT,))
    return cur.rowcount
