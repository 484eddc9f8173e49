"""Document numbers that are unique across stations and readable at the counter.

    demo-01-20261204-O00017     order 17 of 4 Dec 2026 (station-local day) at station demo-01
    demo-01-20261204-P00003     payment        -R refund        -S shift

The station code makes a number unique across the company without asking head office (a station sells
alone when the link is down); the day and a counter per station, letter and day keep it short enough to
read out. The counter moves in the caller's transaction, so a rolled-back sale leaves no gap in use and
two terminals never get the same number.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

STATION_ZONE = ZoneInfo("Asia/Shanghai")     # a station's day is its local day (domain.md: one zone in China)


class Kind(StrEnum):
    ORDER = "O"
    PAYMENT = "P"
    REFUND = "R"
    SHIFT = "S"
    AUTHORISATION = "A"      # a fleet card's authorisation before fuelling (business_services/station_fleets)


_NEXT = """INSERT INTO business.document_counters (station, kind, day, last) {source}
          ON CONFLICT (station, kind, day) DO UPDATE SET last = business.document_counters.last + 1
          RETURNING %(prefix)s::text || CASE WHEN last < 100000 THEN lpad(last::text, 5, '0') ELSE last::text END
                    AS number"""
NEXT = _NEXT.format(source="VALUES (%(station)s, %(kind)s, %(day)s, 1)")
"""The next number as SQL, to be a part of the statement that writes the document (``counter`` gives its
parameters): the counter's row is then locked only from that statement to the commit."""


def next_where(condition: str) -> str:
    """``NEXT`` taken only where ``condition`` (SQL, read by the same statement) holds: a statement that then
    writes no document takes no number, so the numbers keep no gaps."""
    return _NEXT.format(source=f"SELECT %(station)s, %(kind)s, %(day)s, 1 WHERE {condition}")


def counter(station: str, kind: Kind, at: datetime) -> dict[str, Any]:
    """The parameters of ``NEXT`` for ``kind`` at ``station`` on ``at``'s local day."""
    day = at.astimezone(STATION_ZONE).date()
    return {"station": station, "kind": kind.value, "day": day, "prefix": f"{station}-{day:%Y%m%d}-{kind.value}"}


async def next_number(conn: psycopg.AsyncConnection, station: str, kind: Kind, at: datetime) -> str:
    """The next number of ``kind`` at ``station`` for ``at``'s local day, taken in the caller's transaction."""
    cur = await conn.execute(NEXT, counter(station, kind, at))
    row = await cur.fetchone()
    if row is None:
        raise LookupError(f"no {kind.name.lower()} number at {station}")
    return str(row[0])
