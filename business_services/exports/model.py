"""What an export is: a kind (a view's rows, columns with Chinese headers, the permission to read them) and a job.

A list that wants an Excel export declares one ``ExportKind`` in ``business_services/exports/kinds.py``:

    ExportKind("audit", "审计记录", "audit:read", AuditFilter, views.COLUMNS, views.count, views.rows)

``count`` and ``rows`` are the view's own read queries, given the parsed filters and the caller's station
scope (``rows`` also whether the caller may read personal data, ``pii:read``), so an export holds exactly the
rows the list page shows, masked as it shows them.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from pydantic import BaseModel

SHOWN_IN = ZoneInfo("Asia/Shanghai")   # times in a spreadsheet carry no zone: they are shown in China time


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    header: str          # Chinese, as on screen
    width: int = 16


Scope = frozenset[str] | None     # the caller's stations (None: all)
Counter = Callable[[psycopg.AsyncConnection, Any, Scope], Awaitable[int]]
Rows = Callable[[psycopg.AsyncConnection, Any, Scope, bool], AsyncIterator[Mapping[str, Any]]]   # bool: pii:read


@dataclass(frozen=True, slots=True)
class ExportKind:
    name: str
    title: str                      # the sheet's and the file's name
    permission: str                 # who may read these rows may export them
    filters: type[BaseModel]        # the list's filters, validated
    columns: tuple[Column, ...]
    count: Counter
    rows: Rows


def cell(value: Any) -> Any:
    """A value as a spreadsheet cell: times in China time without zone, JSON as text, the rest as it is."""
    if isinstance(value, datetime):
        return value.astimezone(SHOWN_IN).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if isinstance(value, Decimal):
        return float(value)
    return value
