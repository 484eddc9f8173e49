"""Cursor pagination, the one shape of every list: ``{"items": [...], "next_cursor": str | null, "total": int}``.

A cursor is opaque to clients: they send back the ``next_cursor`` they got (``?cursor=…``) with the same
filters and sort, until it is null. It holds the last row's sort key and id (keyset pagination), so the next
page starts after that row wherever it now is: a row inserted or deleted meanwhile never shifts a page (no
row skipped, none repeated). A broken cursor, or one made for another sort, is 422.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import HTTPException, Query

from business_services.pages import After, Sort

Cursor = Annotated[str, Query(max_length=512, description="上一页返回的 next_cursor (the previous page's next_cursor)")]
Limit = Annotated[int, Query(ge=1, le=100, description="每页条数 (items per page)")]
_BIGINT = 2**63 - 1


def _broken() -> HTTPException:
    return HTTPException(422, "分页游标无效，请从第一页重新开始 (the cursor is not valid; start again without it)")


def _fits(value: object, kind: type) -> bool:
    """A value PostgreSQL takes as ``kind``: a bigint, or text without NUL."""
    if kind is int:
        return type(value) is int and -_BIGINT <= value <= _BIGINT
    return kind is str and isinstance(value, str) and "\x00" not in value


def after(cursor: str, sort: Sort) -> After | None:
    """Where the page starts: after the row the cursor names (None: the first page). ``sort``: the request's."""
    if not cursor:
        return None
    try:
        named, key, tiebreak = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if named != sort.name or not _fits(tiebreak, sort.tiebreak_kind):
            raise _broken()
        if sort.kind is datetime and isinstance(key, str):
            at = datetime.fromisoformat(key)
            if at.tzinfo is not None:
                return After(at, tiebreak)
        elif _fits(key, sort.kind):
            return After(key, tiebreak)
        raise _broken()
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError):
        raise _broken() from None


def page(items: list[Any], total: int, sort: Sort, last: After | None) -> dict[str, Any]:
    """The answer; ``last``: the sort key and id of this page's last row when more may follow, else None."""
    cursor = None
    if last is not None:
        key = last.key.isoformat() if isinstance(last.key, datetime) else last.key
        cursor = base64.urlsafe_b64encode(json.dumps([sort.name, key, last.id], ensure_ascii=False).encode()).decode()
    return {"items": items, "next_cursor": cursor, "total": total}
