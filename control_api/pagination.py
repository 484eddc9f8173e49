"""Cursor pagination, the one shape of every list: ``{"items": [...], "next_cursor": str | null, "total": int}``.

A cursor is opaque to clients: they send back the ``next_cursor`` they got (``?cursor=…``) with the same
filters and sort, until it is null. A broken cursor is 422.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

from fastapi import HTTPException, Query

Cursor = Annotated[str, Query(max_length=64, description="上一页返回的 next_cursor (the previous page's next_cursor)")]
Limit = Annotated[int, Query(ge=1, le=100, description="每页条数 (items per page)")]


def offset_of(cursor: str) -> int:
    if not cursor:
        return 0
    try:
        kind, _, value = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
        if kind == "o" and value.isdigit():
            return int(value)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise HTTPException(422, "分页游标无效，请从第一页重新开始 (the cursor is not valid; start again without it)")


def page(items: list[Any], total: int, offset: int, limit: int) -> dict[str, Any]:
    following = offset + len(items)
    more = following < total and len(items) == limit
    cursor = base64.urlsafe_b64encode(f"o:{following}".encode()).decode() if more else None
    return {"items": items, "next_cursor": cursor, "total": total}
