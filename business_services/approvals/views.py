"""Read queries of approvals for the API: the inbox (pending requests I may decide), my requests, one request.

A pending request past its expiry is shown as expired (the same rule as ``model.state``, in SQL).
"""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
from psycopg.rows import dict_row

from business_services.approvals.model import Approver
from business_services.approvals.registry import KINDS

_FIELDS = """id, kind, station, summary, payload, requested_by, created_at, expires_at, decided_by, decided_at, comment,
             CASE WHEN status = 'pending' AND expires_at <= now() THEN 'expired' ELSE status END AS status"""


def decidable_kinds(who: Approver) -> list[str]:
    return sorted(k.name for k in KINDS.values() if k.rule.permission in who.permissions)


async def inbox(conn: psycopg.AsyncConnection, who: Approver, limit: int) -> tuple[list[dict[str, Any]], int]:
    """Pending, unexpired requests of kinds ``who`` may decide, in their stations, not their own; oldest first."""
    where = ("status = 'pending' AND expires_at > now() AND kind = ANY(%(kinds)s) AND requested_by <> %(me)s "
             "AND (%(all)s OR station = ANY(%(stations)s))")
    params = {"kinds": decidable_kinds(who), "me": who.username, "all": who.stations is None,
              "stations": sorted(who.stations or ())}
    return await _list(conn, where, params, "created_at", limit)


async def mine(conn: psycopg.AsyncConnection, username: str, limit: int) -> tuple[list[dict[str, Any]], int]:
    """Requests ``username`` made, newest first."""
    return await _list(conn, "requested_by = %(me)s", {"me": username}, "created_at DESC", limit)


async def one(conn: psycopg.AsyncConnection, request_id: uuid.UUID) -> dict[str, Any] | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(f"SELECT {_FIELDS} FROM business.approval_requests WHERE id = %s",  # noqa: S608
                          (request_id,))
        return await cur.fetchone()


async def _list(conn: psycopg.AsyncConnection, where: str, params: dict[str, Any], order: str,
                limit: int) -> tuple[list[dict[str, Any]], int]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(f"SELECT count(*) AS n FROM business.approval_requests WHERE {where}",  # noqa: S608
                          params)
        counted = await cur.fetchone()
        await cur.execute(f"SELECT {_FIELDS} FROM business.approval_requests WHERE {where} "  # noqa: S608
                          f"ORDER BY {order} LIMIT %(limit)s", {**params, "limit": limit})
        return await cur.fetchall(), int(counted["n"]) if counted else 0
