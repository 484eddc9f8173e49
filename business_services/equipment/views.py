"""Read queries of maintenance work orders, for the API: a keyset page (newest first) and one order."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from business_services.equipment.repository import COLUMNS
from business_services.pages import After, Sort, keyset_page

NEWEST_FIRST = Sort("opened_at", datetime, descending=True)


async def work_orders(conn: psycopg.AsyncConnection, *, station: str = "", status: str = "", q: str = "",
                      alarm_id: uuid.UUID | None = None, scope: frozenset[str] | None = None, limit: int = 20,
                      after: After | None = None) -> tuple[list[dict[str, Any]], int, After | None]:
    """Work orders matching the filters among the ``scope``'s stations (None: every station), newest first."""
    like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    sql = f"""SELECT {COLUMNS} FROM business.equipment_work_orders
              WHERE (%(station)s = '' OR station = %(station)s) AND (%(status)s = '' OR status = %(status)s)
                AND (%(alarm_id)s::uuid IS NULL OR alarm_id = %(alarm_id)s::uuid)
                AND (%(q)s = '' OR equipment ILIKE %(like)s OR fault ILIKE %(like)s OR assignee ILIKE %(like)s)
                AND (%(scope)s::text[] IS NULL OR station = ANY(%(scope)s))"""  # noqa: S608 (our own column list)
    params = {"station": station, "status": status, "q": q, "like": like, "alarm_id": alarm_id,
              "scope": None if scope is None else sorted(scope)}
    return await keyset_page(conn, sql, params, NEWEST_FIRST, limit, after)


async def work_order(conn: psycopg.AsyncConnection, work_order_id: int) -> dict[str, Any] | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(f"SELECT {COLUMNS} FROM business.equipment_work_orders WHERE id = %s",  # noqa: S608
                          (work_order_id,))
        return await cur.fetchone()


async def open_for_alarm(conn: psycopg.AsyncConnection, alarm_id: uuid.UUID) -> dict[str, Any] | None:
    """The alarm's work order that is not done yet, if any."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(f"SELECT {COLUMNS} FROM business.equipment_work_orders "  # noqa: S608
                          "WHERE alarm_id = %s AND status <> 'done'", (alarm_id,))
        return await cur.fetchone()
