"""Keyset pages of a view's query: the rows after a given (sort key, tie-breaker) in the sort's order, and the total.

A page holds the rows after the last one the client saw, found by its sort key and a unique column (the
tie-breaker: ``id``, or a station's ``code``),
not by counting rows from the top, so a row inserted or deleted meanwhile shifts nothing
(``control_api/pagination.py`` makes the cursor).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

SortKey = type[str] | type[datetime] | type[int]
_CASTS: dict[SortKey, str] = {str: "text", datetime: "timestamptz", int: "bigint"}


@dataclass(frozen=True, slots=True)
class After:
    """The last row of the page before: its sort key and tie-breaker."""

    key: str | datetime | int
    id: int | str


@dataclass(frozen=True, slots=True)
class Sort:
    column: str              # an output column of the query (NOT NULL)
    kind: SortKey
    descending: bool = False
    tiebreak: str = "id"     # a unique output column, after the sort key
    tiebreak_kind: type[int] | type[str] = int

    @property
    def name(self) -> str:
        """As in ``?sort=``: the column, after ``-`` when descending."""
        return f"-{self.column}" if self.descending else self.column


async def keyset_page(conn: psycopg.AsyncConnection, query: str, params: dict[str, Any], sort: Sort, limit: int,
                      after: After | None) -> tuple[list[dict[str, Any]], int, After | None]:
    """Up to ``limit`` rows of ``query`` (our own text, values in ``params``) after ``after``; the total of the
    query; and the last row's key when more rows follow, else None (one row more is read to know)."""
    direction, beyond = ("DESC", "<") if sort.descending else ("ASC", ">")
    start = "" if after is None else \
        f"WHERE (q.{sort.column}, q.{sort.tiebreak}) {beyond} " \
        f"(%(after_key)s::{_CASTS[sort.kind]}, %(after_id)s::{_CASTS[sort.tiebreak_kind]})"
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(f"SELECT count(*) AS n FROM ({query}) AS q", params)  # noqa: S608 (our own text)
        total = int((await cur.fetchone() or {"n": 0})["n"])
        await cur.execute(f"SELECT * FROM ({query}) AS q {start} "  # noqa: S608 (our own text)
                          f"ORDER BY q.{sort.column} {direction}, q.{sort.tiebreak} {direction} LIMIT %(limit)s",
                          params | {"limit": limit + 1} | ({} if after is None else
                                                       {"after_key": after.key, "after_id": after.id}))
        rows = list(await cur.fetchall())
    more = len(rows) > limit
    rows = rows[:limit]
    last = After(rows[-1][sort.column], rows[-1][sort.tiebreak]) if more else None
    return rows, total, last
