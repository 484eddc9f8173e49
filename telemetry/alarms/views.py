"""Read queries of the alarm API: the list (active first by priority, then time), one alarm with its journal, the
journal, and the ISA-18.2 KPIs (alarms per operator per 10 minutes, standing, chattering, stale, top 10).

``stations`` is the caller's scope: None every station, else only these (an empty set sees nothing).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

from telemetry.contracts.events.alarms import ALARM_RAISED

ALARM_FIELDS = ("alarm_id, station, rule, source, area, priority, kind, state, active, value, limit_value AS limit, "
                "unit, message, raised_at, acknowledged_at, acknowledged_by, shelved_until, returned_at, seq, "
                "owner, closed_at")
#: the list's order: open first, then by priority (urgent first), then newest
PRIORITY_RANK = "array_position(ARRAY['urgent','high','medium','low','journal'], priority)"
STANDING_AFTER = timedelta(hours=24)
CHATTER_COUNT = 3            # raised 3 times or more in a minute: chattering (ISA-18.2)
STALE_AFTER = timedelta(hours=24)


def _scope(stations: frozenset[str] | None, column: str = "station") -> tuple[str, dict[str, Any]]:
    if stations is None:
        return "true", {}
    return f"{column} = ANY(%(scope)s)", {"scope": sorted(stations)}


def list_query(stations: frozenset[str] | None, station: str | None, area: str | None, priority: str | None,
               active_only: bool) -> tuple[str, dict[str, Any]]:
    """The list's query for ``business_services.pages.keyset_page``: sorted by ``sort_key`` then ``alarm_id``."""
    where, params = _scope(stations)
    clauses = [where]
    if station:
        clauses.append("station = %(station)s")
        params["station"] = station
    if area:
        clauses.append("area = %(area)s")
        params["area"] = area
    if priority:
        clauses.append("priority = %(priority)s")
        params["priority"] = priority
    if active_only:
        clauses.append("closed_at IS NULL")
    # one text key: open first (0), priority rank, then newest first (inverted epoch), so a keyset page works
    query = (f"SELECT {ALARM_FIELDS}, alarm_id::text AS tiebreak, "  # noqa: S608 (our own text)
             f"(CASE WHEN closed_at IS NULL THEN '0' ELSE '1' END) || {PRIORITY_RANK}::text || "
             "lpad((9999999999 - floor(extract(epoch FROM raised_at)))::bigint::text, 10, '0') AS sort_key "
             f"FROM alarms.alarms WHERE {' AND '.join(clauses)}")
    return query, params


async def alarm(conn: psycopg.AsyncConnection, alarm_id: uuid.UUID) -> dict[str, Any] | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(f"SELECT {ALARM_FIELDS} FROM alarms.alarms WHERE alarm_id = %s",  # noqa: S608
                          (alarm_id,))
        row = await cur.fetchone()
        if row is None:
            return None
        await cur.execute("SELECT seq, event_type, state_from, state_to, active, at, by_user AS by, comment, value "
                          "FROM alarms.journal WHERE alarm_id = %s ORDER BY seq", (alarm_id,))
        row["journal"] = list(await cur.fetchall())
    return row


async def active(conn: psycopg.AsyncConnection, stations: frozenset[str] | None,
                 station: str | None = None) -> list[dict[str, Any]]:
    """Every open alarm in scope (the stream's snapshot)."""
    query, params = list_query(stations, station, None, None, True)
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(f"SELECT * FROM ({query}) q ORDER BY sort_key, tiebreak LIMIT 1000",  # noqa: S608
                          params)
        return list(await cur.fetchall())


def journal_query(stations: frozenset[str] | None, station: str | None, start: datetime | None,
                  end: datetime | None) -> tuple[str, dict[str, Any]]:
    where, params = _scope(stations)
    clauses = [where]
    if station:
        clauses.append("station = %(station)s")
        params["station"] = station
    if start:
        clauses.append("at >= %(start)s")
        params["start"] = start
    if end:
        clauses.append("at < %(end)s")
        params["end"] = end
    return ("SELECT id, alarm_id, seq, event_type, station, rule, source, priority, state_from, state_to, active, at, "  # noqa: S608
            f"by_user AS by, comment, value FROM alarms.journal WHERE {' AND '.join(clauses)}", params)


async def kpis(conn: psycopg.AsyncConnection, stations: frozenset[str] | None, station: str | None,
               start: datetime, end: datetime) -> dict[str, Any]:
    """ISA-18.2 KPIs over [start, end): raised alarms per 10-minute window (one operator per station), standing
    (open longer than 24 h), chattering (raised ≥ 3 times within a minute), stale (unacknowledged > 24 h), the
    10 most frequent rules and the raised alarms by priority."""
    where, params = _scope(stations)
    params |= {"start": start, "end": end, "station": station, "raised_type": ALARM_RAISED}
    raised = (f"SELECT station, rule, source, priority, at FROM alarms.journal WHERE {where} "  # noqa: S608
              "AND event_type = %(raised_type)s AND state_from <> 'returned_unacknowledged' "
              "AND at >= %(start)s AND at < %(end)s AND (%(station)s::text IS NULL OR station = %(station)s)")
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(f"WITH r AS ({raised}), w AS (SELECT station, "  # noqa: S608
                          "floor(extract(epoch FROM at) / 600) AS slot, count(*) AS n FROM r GROUP BY 1, 2) "
                          "SELECT coalesce(sum(n), 0) AS total, coalesce(max(n), 0) AS max, "
                          "count(*) FILTER (WHERE n > 10) AS over FROM w", params)
        per10 = await cur.fetchone() or {"total": 0, "max": 0, "over": 0}
        await cur.execute(f"WITH r AS ({raised}) SELECT priority, count(*) AS n FROM r GROUP BY 1",  # noqa: S608
                          params)
        by_priority = {row["priority"]: row["n"] for row in await cur.fetchall()}
        await cur.execute(f"WITH r AS ({raised}) SELECT rule, station, count(*) AS n FROM r "  # noqa: S608
                          "GROUP BY 1, 2 ORDER BY n DESC, rule LIMIT 10", params)
        top = list(await cur.fetchall())
        await cur.execute(f"WITH r AS ({raised}), c AS (SELECT station, rule, source, at, count(*) OVER "  # noqa: S608
                          "(PARTITION BY station, rule, source ORDER BY at RANGE BETWEEN interval '60 seconds' "
                          "PRECEDING AND CURRENT ROW) AS n FROM r) SELECT station, rule, source, max(n) AS n FROM c "
                          "GROUP BY 1, 2, 3 HAVING max(n) >= %(chatter)s ORDER BY n DESC LIMIT 50",
                          params | {"chatter": CHATTER_COUNT})
        chattering = list(await cur.fetchall())
        open_where = f"{where} AND closed_at IS NULL AND (%(station)s::text IS NULL OR station = %(station)s)"
        await cur.execute(f"SELECT count(*) AS n FROM alarms.alarms WHERE {open_where} "  # noqa: S608
                          "AND raised_at < %(end)s - %(standing)s::interval", params | {"standing": STANDING_AFTER})
        standing = (await cur.fetchone() or {"n": 0})["n"]
        await cur.execute(f"SELECT alarm_id, station, rule, source, raised_at FROM alarms.alarms "  # noqa: S608
                          f"WHERE {open_where} AND state = 'unacknowledged' "
                          "AND raised_at < %(end)s - %(stale)s::interval "
                          "ORDER BY raised_at LIMIT 50", params | {"stale": STALE_AFTER})
        stale = list(await cur.fetchall())
    windows = max(1.0, (end - start).total_seconds() / 600)
    operators = 1 if station else max(1, len({t["station"] for t in top}) or 1)
    return {"per_operator_per_10min": {"avg": round(float(per10["total"]) / windows / operators, 3),
                                       "max": int(per10["max"]), "pct_over_10": round(
                                           100.0 * float(per10["over"]) / windows / operators, 2)},
            "standing": int(standing), "chattering": chattering, "stale": stale, "top_10": top,
            "by_priority": by_priority}
