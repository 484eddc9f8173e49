"""SQL of export jobs: create (once per request id), progress, finish, fail, read."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from business_services.exports.model import Scope

STALE_S = 120   # a running job that has not moved for this long was interrupted (its process ended)
KEPT = "7 days"  # a finished file (and its job) is deleted this long after it last changed


@dataclass(frozen=True, slots=True)
class ExportJob:
    id: uuid.UUID
    owner: str
    kind: str
    filters: dict[str, Any]
    scope: list[str] | None
    status: str           # running | done | failed
    done: int
    total: int | None
    error: str | None
    created: datetime
    size: int | None      # bytes of the finished file


_SELECT = """SELECT id, owner, kind, filters, scope,
                    CASE WHEN status = 'running' AND updated < now() - make_interval(secs => %s) THEN 'failed'
                         ELSE status END AS status,
                    done, total,
                    CASE WHEN status = 'running' AND updated < now() - make_interval(secs => %s)
                         THEN '导出中断，请重新导出 (the export was interrupted; start it again)'
                         ELSE error END AS error,
                    created, octet_length(file) AS size
             FROM business.export_jobs"""


async def create(conn: psycopg.AsyncConnection, owner: str, kind: str, filters: dict[str, Any], scope: Scope,
                 request_id: str | None) -> tuple[uuid.UUID, bool]:
    """The new job's id and True; or, for a request id seen before from this owner, that job's id and False."""
    job_id = uuid.uuid4()
    cur = await conn.execute(
        "INSERT INTO business.export_jobs (id, owner, request_id, kind, filters, scope) "
        "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (owner, request_id) DO NOTHING RETURNING id",
        (job_id, owner, request_id, kind, Jsonb(filters), None if scope is None else sorted(scope)))
    if await cur.fetchone() is not None:
        return job_id, True
    cur = await conn.execute("SELECT id FROM business.export_jobs WHERE owner = %s AND request_id = %s",
                             (owner, request_id))
    row = await cur.fetchone()
    if row is None:
        raise LookupError("the export job vanished")
    return row[0], False


async def get(conn: psycopg.AsyncConnection, job_id: uuid.UUID) -> ExportJob | None:
    async with conn.cursor(row_factory=class_row(ExportJob)) as cur:
        await cur.execute(_SELECT + " WHERE id = %s", (STALE_S, STALE_S, job_id))
        return await cur.fetchone()


async def file(conn: psycopg.AsyncConnection, job_id: uuid.UUID) -> bytes | None:
    cur = await conn.execute("SELECT file FROM business.export_jobs WHERE id = %s AND status = 'done'", (job_id,))
    row = await cur.fetchone()
    return None if row is None or row[0] is None else bytes(row[0])


async def progress(conn: psycopg.AsyncConnection, job_id: uuid.UUID, done: int, total: int) -> None:
    await conn.execute("UPDATE business.export_jobs SET done = %s, total = %s, updated = now() WHERE id = %s",
                       (done, total, job_id))


async def finish(conn: psycopg.AsyncConnection, job_id: uuid.UUID, done: int, content: bytes) -> None:
    await conn.execute("UPDATE business.export_jobs SET status = 'done', done = %s, total = %s, file = %s, "
                       "updated = now() WHERE id = %s", (done, done, content, job_id))


async def fail(conn: psycopg.AsyncConnection, job_id: uuid.UUID, error: str) -> None:
    await conn.execute("UPDATE business.export_jobs SET status = 'failed', error = %s, updated = now() WHERE id = %s",
                       (error, job_id))


async def forget_old(conn: psycopg.AsyncConnection) -> int:
    """Delete jobs (their files with them) untouched for ``KEPT``: finished, failed or long interrupted."""
    cur = await conn.execute("DELETE FROM business.export_jobs WHERE updated < now() - %s::interval", (KEPT,))
    return cur.rowcount
