"""``forecourt audit verify [--station S]``: check the audit chain (or head office's copy of a station's) from the
command line; exit 0 intact, 1 broken, 2 unusable."""

from __future__ import annotations

import asyncio
import sys

import psycopg

from business_services.audit.verify import describe, verify


def _progress(done: int, total: int) -> None:
    if done % 100_000 == 0:
        print(f"已校验 (checked) {done} / {total} …", file=sys.stderr, flush=True)


async def _verify(database_url: str, from_seq: int, station: str | None) -> int:
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        verdict = await verify(conn, from_seq, _progress, station)
    print(describe(verdict), flush=True)
    return 0 if verdict.ok else 1


def verify_command(database_url: str | None, from_seq: int, station: str | None = None) -> int:
    if not database_url:
        print("请指定数据库 (name the database: --database-url or FORECOURT_DATABASE_URL)", file=sys.stderr)
        return 2
    try:
        return asyncio.run(_verify(database_url, from_seq, station))
    except psycopg.OperationalError as exc:
        print(f"无法连接数据库 (cannot reach the database): {exc}", file=sys.stderr)
        return 2
    except psycopg.errors.UndefinedTable:
        print("数据库中没有审计表，请先执行 forecourt db migrate (no audit table: run `forecourt db migrate` first)",
              file=sys.stderr)
        return 2
