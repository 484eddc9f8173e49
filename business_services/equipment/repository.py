"""SQL that writes maintenance work orders (``business.equipment_work_orders``); takes the unit of work's connection."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row

from business_services.equipment.model import ChangeWorkOrderStatus, OpenWorkOrder, Status

COLUMNS = ("id, station, equipment, fault, alarm_id, status, opened_by, opened_at, assignee, note, "
           "updated_by, updated_at, done_at")


async def insert(conn: psycopg.AsyncConnection, c: OpenWorkOrder) -> dict[str, Any] | None:
    """The new work order, or None when the alarm already has one that is not done (the caller reads it)."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            f"""INSERT INTO business.equipment_work_orders
                    (station, equipment, fault, alarm_id, opened_by, opened_at, assignee, updated_by, updated_at)
                VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
                ON CONFLICT (alarm_id) WHERE alarm_id IS NOT NULL AND status <> 'done' DO NOTHING
                RETURNING {COLUMNS}""",  # noqa: S608 (our own column list)
            (c.station, c.equipment, c.fault, c.alarm_id, c.by, c.at, c.assignee, c.by, c.at))
        return await cur.fetchone()


async def lock(conn: psycopg.AsyncConnection, work_order_id: int) -> dict[str, Any] | None:
    """The work order, its row locked until the transaction ends (status changes one at a time)."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(f"SELECT {COLUMNS} FROM business.equipment_work_orders WHERE id = %s FOR UPDATE",  # noqa: S608
                          (work_order_id,))
        return await cur.fetchone()


async def set_status(conn: psycopg.AsyncConnection, c: ChangeWorkOrderStatus, assignee: str) -> dict[str, Any]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            f"""UPDATE business.equipment_work_orders
                SET status = %s, note = %s, assignee = %s, updated_by = %s, updated_at = %s,
                    done_at = CASE WHEN %s THEN coalesce(done_at, %s::timestamptz) END
                WHERE id = %s RETURNING {COLUMNS}""",  # noqa: S608 (our own column list)
            (c.status.value, c.note, assignee, c.by, c.at, c.status == Status.DONE, c.at, c.work_order_id))
        row = await cur.fetchone()
    assert row is not None   # noqa: S101 (locked by the caller)
    return row
