"""Read queries of people and access for the API: pages of users, API keys and the login log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from business_services.pages import After, Sort, SortKey, keyset_page

USER_SORTS: dict[str, SortKey] = {"username": str, "display_name": str, "created_at": datetime}
STATUSES = ("active", "disabled", "locked")
LOGINS_NEWEST_FIRST = Sort("at", datetime, descending=True)
KEYS_NEWEST_FIRST = Sort("created_at", datetime, descending=True)
BY_USERNAME = Sort("username", str)


def user_sort(sort: str) -> Sort:
    """``username``, ``-created_at`` …: a ``USER_SORTS`` key, after ``-`` for descending."""
    column = sort.removeprefix("-")
    return Sort(column, USER_SORTS[column], sort.startswith("-"))


async def users(conn: psycopg.AsyncConnection, *, q: str = "", role: str = "", station: str = "", status: str = "",
                sort: Sort = BY_USERNAME, scope: frozenset[str] | None = None, user_id: int | None = None,
                limit: int = 20, after: After | None = None) -> tuple[list[dict[str, Any]], int, After | None]:
    """Users matching the filters, among those who share a station with ``scope`` (None: every user); a keyset
    page (``business_services/pages.py``) in the order of ``sort`` (``user_sort``)."""
    sql = """SELECT u.id, u.username, u.display_name, u.phone, u.disabled, u.locked_until, u.created_at,
                    (u.locked_until IS NOT NULL AND u.locked_until > now()) AS locked,
                    ARRAY(SELECT role FROM business.access_user_roles r WHERE r.user_id = u.id ORDER BY role) AS roles,
                    ARRAY(SELECT o.code FROM business.access_user_units uu JOIN business.access_org_units o
                          ON o.id = uu.unit_id WHERE uu.user_id = u.id ORDER BY o.code) AS units
             FROM business.access_users u
             WHERE (%(user_id)s::bigint IS NULL OR u.id = %(user_id)s)
               AND (%(q)s = '' OR u.username ILIKE %(like)s OR u.display_name ILIKE %(like)s)
               AND (%(role)s = '' OR EXISTS (SELECT 1 FROM business.access_user_roles r
                                             WHERE r.user_id = u.id AND r.role = %(role)s))
               AND (%(station)s = '' OR EXISTS (SELECT 1 FROM business.access_user_stations s
                                                WHERE s.user_id = u.id AND s.station IN (%(station)s, '*')))
               AND (%(scope)s::text[] IS NULL OR EXISTS (SELECT 1 FROM business.access_user_stations s
                                             WHERE s.user_id = u.id AND s.station = ANY(%(scope)s)))
               AND (%(status)s = '' OR (%(status)s = 'disabled' AND u.disabled)
                    OR (%(status)s = 'locked' AND u.locked_until > now())
                    OR (%(status)s = 'active' AND NOT u.disabled
                        AND (u.locked_until IS NULL OR u.locked_until <= now())))"""
    like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    params = {"q": q, "like": like, "role": role, "station": station, "status": status,
              "scope": None if scope is None else sorted(scope), "user_id": user_id}
    return await keyset_page(conn, sql, params, sort, limit, after)


async def login_log(conn: psycopg.AsyncConnection, *, username: str = "", result: str = "",
                    scope: frozenset[str] | None = None, limit: int = 20, after: After | None = None
                    ) -> tuple[list[dict[str, Any]], int, After | None]:
    """Logins, newest first; with a ``scope``, only those of users who share a station with it."""
    sql = """SELECT id, at, username, user_id, source, user_agent, result FROM business.access_login_log l
             WHERE (%(username)s = '' OR username = %(username)s) AND (%(result)s = '' OR result = %(result)s)
               AND (%(scope)s::text[] IS NULL OR EXISTS (SELECT 1 FROM business.access_user_stations s
                                             WHERE s.user_id = l.user_id AND s.station = ANY(%(scope)s)))"""
    params = {"username": username, "result": result, "scope": None if scope is None else sorted(scope)}
    return await keyset_page(conn, sql, params, LOGINS_NEWEST_FIRST, limit, after)


async def api_keys(conn: psycopg.AsyncConnection, *, limit: int = 20, after: After | None = None
                   ) -> tuple[list[dict[str, Any]], int, After | None]:
    sql = """SELECT id, prefix, partner, permissions, stations, created_by, created_at, revoked_at
             FROM business.access_api_keys"""
    return await keyset_page(conn, sql, {}, KEYS_NEWEST_FIRST, limit, after)


async def stations(conn: psycopg.AsyncConnection, codes: frozenset[str] | None) -> list[dict[str, str]]:
    """Code and name of the given stations (every station when None), as the org tree knows them."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("SELECT code, name FROM business.access_org_units WHERE kind = 'station' "
                          "AND (%(codes)s::text[] IS NULL OR code = ANY(%(codes)s)) ORDER BY code",
                          {"codes": None if codes is None else sorted(codes)})
        return list(await cur.fetchall())


async def station_users(conn: psycopg.AsyncConnection, station: str) -> list[dict[str, Any]]:
    """The users given ``station`` itself or its region (not the whole company), for the station's offline
    login: user name, password hash (never a password), roles and whether the account is active."""
    cur = await conn.execute(
        """SELECT u.username, u.password_hash, NOT u.disabled,
                  ARRAY(SELECT role FROM business.access_user_roles r WHERE r.user_id = u.id ORDER BY role)
           FROM business.access_users u
           WHERE EXISTS (SELECT 1 FROM business.access_user_stations s WHERE s.user_id = u.id AND s.station = %s)
             AND NOT EXISTS (SELECT 1 FROM business.access_user_stations s WHERE s.user_id = u.id AND s.station = '*')
           ORDER BY u.username""", (station,))
    return [{"username": name, "password_hash": digest, "active": active, "roles": list(roles)}
            for name, digest, active, roles in await cur.fetchall()]


async def units_with_stations(conn: psycopg.AsyncConnection) -> list[dict[str, Any]]:
    """Every org unit (company, region, station) with the station codes under it (a station: itself), in tree
    order: what a change naming a region expands to (``business_services/prices``)."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            """WITH RECURSIVE down AS (
                   SELECT id AS root, id, kind, code FROM business.access_org_units
                   UNION ALL
                   SELECT d.root, u.id, u.kind, u.code
                   FROM business.access_org_units u JOIN down d ON u.parent_id = d.id)
               SELECT o.code, o.name, o.kind,
                      coalesce(array_agg(d.code ORDER BY d.code) FILTER (WHERE d.kind = 'station'), '{}') AS stations
               FROM business.access_org_units o JOIN down d ON d.root = o.id
               GROUP BY o.id, o.code, o.name, o.kind ORDER BY o.id""")
        return list(await cur.fetchall())
