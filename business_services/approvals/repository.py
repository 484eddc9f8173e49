"""SQL of approval requests: add one, read one (locked for a decision), write its decision."""

from __future__ import annotations

import uuid
from datetime import datetime

import psycopg
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from business_services.approvals.model import ApprovalRequest

COLUMNS = ("id, kind, station, summary, payload, requested_by, requested_by_id, status, created_at, expires_at, "
           "decided_by, decided_at, comment")


async def add(conn: psycopg.AsyncConnection, r: ApprovalRequest) -> None:
    await conn.execute(
        "INSERT INTO business.approval_requests (id, kind, station, summary, payload, requested_by, requested_by_id, "
        "status, created_at, expires_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (r.id, r.kind, r.station, r.summary, Jsonb(r.payload), r.requested_by, r.requested_by_id, r.status,
         r.created_at, r.expires_at))


async def get(conn: psycopg.AsyncConnection, request_id: uuid.UUID, *, lock: bool = False) -> ApprovalRequest | None:
    """The request; with ``lock``, held until the transaction ends (two approvers never both decide it)."""
    async with conn.cursor(row_factory=class_row(ApprovalRequest)) as cur:
        await cur.execute(f"SELECT {COLUMNS} FROM business.approval_requests WHERE id = %s"  # noqa: S608  constants
                          + (" FOR UPDATE" if lock else ""), (request_id,))
        return await cur.fetchone()


async def decide(conn: psycopg.AsyncConnection, request_id: uuid.UUID, status: str, by: str, at: datetime,
                 comment: str | None) -> None:
    await conn.execute("UPDATE business.approval_requests SET status = %s, decided_by = %s, decided_at = %s, "
                       "comment = %s WHERE id = %s", (status, by, at, comment, request_id))
