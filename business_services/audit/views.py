"""Read queries of the audit chain for the API and exports: search with filters, newest first, scoped by station,
personal data in before/after masked unless the reader holds ``pii:read`` (``shown``: the one place)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from typing import Annotated, Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from business_services.audit.model import masked
from business_services.exports.model import Column, Scope
from telemetry.contracts.identifiers import PLAIN_TEXT as PLAIN

COLUMNS = (Column("seq", "序号", 10), Column("at", "时间", 20), Column("actor", "操作人"), Column("source", "来源"),
           Column("station", "站点"), Column("action", "操作", 22), Column("target", "对象", 24),
           Column("before", "变更前", 40), Column("after", "变更后", 40))
FIELDS = sql.SQL(", ").join(sql.Identifier(c.key) for c in COLUMNS)


def _in_utc(value: datetime) -> datetime:
    """A time in UTC (API times are UTC: a time without a zone is read as UTC), so that any offset a client
    sends, even one PostgreSQL refuses (beyond ±15:59), compares correctly."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


Moment = Annotated[datetime, AfterValidator(_in_utc)]




class AuditFilter(BaseModel):
    """The audit page's filters; all optional."""

    model_config = ConfigDict(extra="forbid")
    since: Moment | None = Field(None, description="从此时起 (inclusive)")
    until: Moment | None = Field(None, description="到此时为止 (exclusive)")
    actor: str | None = Field(None, max_length=100, pattern=PLAIN, description="操作人 (exact user name)")
    action: str | None = Field(None, max_length=100, pattern=PLAIN,
                               description="操作, e.g. price.change, or a prefix: price.")
    station: str | None = Field(None, max_length=64, pattern=PLAIN, description="站点编码")
    target: str | None = Field(None, max_length=100, pattern=PLAIN, description="对象 contains this text")


def _where(f: AuditFilter, scope: Scope) -> tuple[sql.Composable, list[Any]]:
    parts: list[sql.Composable] = [sql.SQL("TRUE")]
    params: list[Any] = []

    def add(clause: str, value: Any) -> None:
        parts.append(sql.SQL(clause))   # our constants only; values go in params
        params.append(value)

    if scope is not None:
        add("station = ANY(%s)", sorted(scope))
    if f.since is not None:
        add("at >= %s", f.since)
    if f.until is not None:
        add("at < %s", f.until)
    if f.actor:
        add("actor = %s", f.actor)
    if f.action:
        if f.action.endswith("."):
            add("starts_with(action, %s)", f.action)
        else:
            add("action = %s", f.action)
    if f.station:
        add("station = %s", f.station)
    if f.target:
        escaped = f.target.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        add("target ILIKE %s", f"%{escaped}%")
    return sql.SQL(" AND ").join(parts), params


def shown(record: dict[str, Any], pii: bool) -> dict[str, Any]:
    """The record as this reader may see it: ``pii`` False masks phones, plates and card numbers."""
    return record if pii else record | {"before": masked(record["before"]), "after": masked(record["after"])}


async def count(conn: psycopg.AsyncConnection, f: AuditFilter, scope: Scope) -> int:
    where, params = _where(f, scope)
    cur = await conn.execute(sql.SQL("SELECT count(*) FROM business.audit_log WHERE {}").format(where), params)
    row = await cur.fetchone()
    return int(row[0]) if row else 0


async def page(conn: psycopg.AsyncConnection, f: AuditFilter, scope: Scope, before_seq: int | None,
               limit: int, pii: bool) -> list[dict[str, Any]]:
    """Up to ``limit`` records newest first, those older than ``before_seq`` (the cursor) if given."""
    where, params = _where(f, scope)
    if before_seq is not None:
        where = sql.SQL("{} AND seq < %s").format(where)
        params.append(before_seq)
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(sql.SQL("SELECT {} FROM business.audit_log WHERE {} ORDER BY seq DESC LIMIT %s")
                          .format(FIELDS, where), [*params, limit])
        return [shown(r, pii) for r in await cur.fetchall()]


async def rows(conn: psycopg.AsyncConnection, f: AuditFilter, scope: Scope,
               pii: bool) -> AsyncIterator[Mapping[str, Any]]:
    """Every matching record newest first, streamed (for exports); call inside a transaction."""
    where, params = _where(f, scope)
    async with conn.cursor(name="audit_rows", row_factory=dict_row) as cur:
        cur.itersize = 2000
        await cur.execute(sql.SQL("SELECT {} FROM business.audit_log WHERE {} ORDER BY seq DESC")
                          .format(FIELDS, where), params)
        async for row in cur:
            yield shown(row, pii)
