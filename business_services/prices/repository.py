"""SQL that writes the prices context's tables (``business.price_*``), on the caller's connection and transaction."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from business_services.prices.model import (
    DEFAULT_POLICY,
    STATION_ZONE,
    Line,
    NozzleKey,
    Policy,
    SetNozzle,
    change_number,
    unit_of,
)
from telemetry.contracts.prices import PriceApplied

#: a set its edge node has not answered for this long after it went out is sent again (same id)
RESEND_AFTER_S = 60


# --- policy ----------------------------------------------------------------------------------------------

async def policy(conn: psycopg.AsyncConnection, group: str) -> Policy:
    cur = await conn.execute("SELECT step_fen, step_pct, day_fen FROM business.price_policy WHERE company_group = %s",
                             (group,))
    row = await cur.fetchone()
    return DEFAULT_POLICY if row is None else Policy(row[0], Decimal(row[1]), row[2])


async def put_policy(conn: psycopg.AsyncConnection, group: str, p: Policy, who: str) -> None:
    await conn.execute(
        """INSERT INTO business.price_policy (company_group, step_fen, step_pct, day_fen, updated_by)
           VALUES (%s, %s, %s, %s, %s)
           ON CONFLICT (company_group) DO UPDATE SET step_fen = EXCLUDED.step_fen, step_pct = EXCLUDED.step_pct,
               day_fen = EXCLUDED.day_fen, updated_by = EXCLUDED.updated_by, updated_at = now()""",
        (group, p.step_fen, p.step_pct, p.day_fen, who))


# --- sets ------------------------------------------------------------------------------------------------

async def lock_station(conn: psycopg.AsyncConnection, station: str) -> None:
    """Serialise the making of a station's versions (two senders never make the same version)."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('prices/' || %s))", (station,))


async def newest_set(conn: psycopg.AsyncConnection, station: str
                     ) -> tuple[int, dict[str, int], dict[NozzleKey, SetNozzle]] | None:
    cur = await conn.execute("SELECT max(version) FROM business.price_sets WHERE station = %s", (station,))
    row = await cur.fetchone()
    if row is None or row[0] is None:
        return None
    version = int(row[0])
    cur = await conn.execute("SELECT grade, price_fen FROM business.price_set_grades "
                             "WHERE station = %s AND version = %s", (station, version))
    grades = {g: p for g, p in await cur.fetchall()}
    cur = await conn.execute(
        "SELECT device, fuelling_point, nozzle, grade, price_fen, own_price FROM business.price_set_nozzles "
        "WHERE station = %s AND version = %s", (station, version))
    nozzles = {NozzleKey(d, fp, n): SetNozzle(d, fp, n, g, p, o) for d, fp, n, g, p, o in await cur.fetchall()}
    return version, grades, nozzles


async def grade_since(conn: psycopg.AsyncConnection, station: str, version: int) -> dict[str, datetime]:
    cur = await conn.execute("SELECT grade, since FROM business.price_set_grades WHERE station = %s AND version = %s",
                             (station, version))
    return {g: s for g, s in await cur.fetchall()}


async def insert_set(conn: psycopg.AsyncConnection, *, station: str, version: int, group: str, change_no: str | None,
                     effective_at: datetime, reason: str, requested_by: str, approved_by: str | None,
                     grades: dict[str, int], since: dict[str, datetime], nozzles: list[SetNozzle]) -> None:
    await conn.execute(
        """INSERT INTO business.price_sets (station, version, company_group, change_no, effective_at, reason,
                                            requested_by, approved_by, in_force_at)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, CASE WHEN %s THEN now() END)""",
        (station, version, group, change_no, effective_at, reason, requested_by, approved_by, not nozzles))
    for grade, price in sorted(grades.items()):
        await conn.execute("INSERT INTO business.price_set_grades (station, version, grade, unit, price_fen, since) "
                           "VALUES (%s, %s, %s, %s, %s, %s)",
                           (station, version, grade, unit_of(grade), price, since.get(grade, effective_at)))
    for n in nozzles:
        await conn.execute(
            "INSERT INTO business.price_set_nozzles (station, version, device, fuelling_point, nozzle, grade, "
            "price_fen, own_price) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            (station, version, n.device, n.fuelling_point, n.nozzle, n.grade, n.price_fen, n.own_price))


async def record_report(conn: psycopg.AsyncConnection, event_id: str, r: PriceApplied) -> bool:
    """Keep one nozzle's report once (by its event id); False for a repeat."""
    cur = await conn.execute(
        """INSERT INTO business.price_reports (event_id, station, version, device, fuelling_point, nozzle, grade,
                                               price_fen, state, detail, attempt, at)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (event_id) DO NOTHING""",
        (event_id, r.station, r.version, r.device, r.fuelling_point, r.nozzle, r.grade, r.price_fen, r.state,
         r.detail, r.attempt, r.at))
    return cur.rowcount == 1


async def nozzle_state(conn: psycopg.AsyncConnection, r: PriceApplied
                       ) -> tuple[str, int, datetime | None] | None:
    """The nozzle's held (state, attempt, at) in its set, locked; None when the set has no such nozzle."""
    cur = await conn.execute(
        "SELECT state, attempt, at FROM business.price_set_nozzles WHERE station = %s AND version = %s "
        "AND device = %s AND fuelling_point = %s AND nozzle = %s FOR UPDATE",
        (r.station, r.version, r.device, r.fuelling_point, r.nozzle))
    row = await cur.fetchone()
    return None if row is None else (row[0], row[1], row[2])


async def put_nozzle_state(conn: psycopg.AsyncConnection, r: PriceApplied) -> None:
    await conn.execute(
        "UPDATE business.price_set_nozzles SET state = %s, detail = %s, attempt = %s, at = %s "
        "WHERE station = %s AND version = %s AND device = %s AND fuelling_point = %s AND nozzle = %s",
        (r.state, r.detail, r.attempt, r.at, r.station, r.version, r.device, r.fuelling_point, r.nozzle))


async def set_nozzle_states(conn: psycopg.AsyncConnection, station: str, version: int) -> list[str]:
    cur = await conn.execute("SELECT state FROM business.price_set_nozzles WHERE station = %s AND version = %s",
                             (station, version))
    return [s for (s,) in await cur.fetchall()]


async def mark_in_force(conn: psycopg.AsyncConnection, station: str, version: int, at: datetime) -> bool:
    cur = await conn.execute("UPDATE business.price_sets SET in_force_at = %s "
                             "WHERE station = %s AND version = %s AND in_force_at IS NULL", (at, station, version))
    return cur.rowcount == 1


async def resend_unapplied_sets(conn: psycopg.AsyncConnection, after_s: int = RESEND_AFTER_S) -> int:
    """Publish again each station's newest set that is not in force and from which the edge has reported nothing
    for ``after_s`` seconds since it went out (the station was offline, or the message was lost): its outbox row
    is marked unpublished, so the publisher sends the same message (same id) again. How many sets."""
    cur = await conn.execute(
        """UPDATE business.outbox o SET published_at = NULL
           FROM (SELECT DISTINCT ON (station) station, version, in_force_at FROM business.price_sets
                 ORDER BY station, version DESC) s
           WHERE o.event_id = 'price-set/' || s.station || '/' || s.version
             AND s.in_force_at IS NULL
             AND o.published_at < now() - make_interval(secs => %s)
             AND NOT EXISTS (SELECT 1 FROM business.price_reports r
                             WHERE r.station = s.station AND r.version = s.version
                               AND r.received_at > now() - make_interval(secs => %s))""", (after_s, after_s))
    if cur.rowcount:
        await conn.execute("SELECT pg_notify('business_outbox', '')")
    return cur.rowcount


# --- changes ---------------------------------------------------------------------------------------------

async def next_change_no(conn: psycopg.AsyncConnection, at: datetime) -> str:
    cur = await conn.execute("SELECT nextval('business.price_change_seq')")
    row = await cur.fetchone()
    return change_number(at, int(row[0]) if row else 0)


async def moved_today(conn: psycopg.AsyncConnection, stations: list[str], day: date) -> dict[tuple[str, str], int]:
    """(station, grade) → fen moved on ``day`` (the station's day of each change's effective time) by changes
    not rejected or cancelled, their sizes summed."""
    cur = await conn.execute(
        """SELECT l.station, l.grade, sum(abs(l.new_price_fen - l.old_price_fen))
           FROM business.price_change_lines l JOIN business.price_changes c USING (change_no)
           WHERE l.station = ANY(%s) AND l.old_price_fen IS NOT NULL
             AND c.state NOT IN ('rejected', 'cancelled')
             AND (coalesce(c.effective_at, c.requested_at) AT TIME ZONE %s)::date = %s
           GROUP BY l.station, l.grade""", (stations, str(STATION_ZONE), day))
    return {(s, g): int(n) for s, g, n in await cur.fetchall()}


async def insert_change(conn: psycopg.AsyncConnection, *, change_no: str, group: str, state: str,
                        stations: list[str], effective_at: datetime | None, reason: str, requested_by: str,
                        requested_at: datetime, lines: list[Line], units: list[str] | None = None) -> None:
    await conn.execute(
        """INSERT INTO business.price_changes (change_no, company_group, state, stations, effective_at, reason,
                                               requested_by, requested_at, units)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)""",
        (change_no, group, state, stations, effective_at, reason, requested_by, requested_at, units or []))
    for i, line in enumerate(lines, 1):
        await conn.execute(
            """INSERT INTO business.price_change_lines (change_no, line, station, grade, device, fuelling_point,
                                                        nozzle, old_price_fen, new_price_fen)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)""",
            (change_no, i, line.station, line.grade, line.device, line.fuelling_point, line.nozzle,
             line.old_price_fen, line.new_price_fen))


async def change(conn: psycopg.AsyncConnection, change_no: str, *, lock: bool = False) -> dict[str, Any] | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        query = "SELECT * FROM business.price_changes WHERE change_no = %s"
        await cur.execute(query + (" FOR UPDATE" if lock else ""), (change_no,))
        return await cur.fetchone()


async def lines(conn: psycopg.AsyncConnection, change_no: str) -> list[Line]:
    cur = await conn.execute(
        "SELECT station, grade, old_price_fen, new_price_fen, device, fuelling_point, nozzle "
        "FROM business.price_change_lines WHERE change_no = %s ORDER BY line", (change_no,))
    return [Line(*row) for row in await cur.fetchall()]


async def move_change(conn: psycopg.AsyncConnection, change_no: str, from_states: tuple[str, ...], to: str,
                      **columns: Any) -> bool:
    """Move a change to ``to`` only from one of ``from_states`` (a repeat or a race moves it once)."""
    names = sorted(columns)
    sets = "".join(f", {name} = %({name})s" for name in names)
    cur = await conn.execute(
        f"UPDATE business.price_changes SET state = %(to)s{sets} "  # noqa: S608 (names are ours)
        "WHERE change_no = %(change_no)s AND state = ANY(%(from_states)s)",
        {"to": to, "change_no": change_no, "from_states": list(from_states), **columns})
    return cur.rowcount == 1


async def set_approval(conn: psycopg.AsyncConnection, change_no: str, approval_id: Any, expires_at: datetime) -> None:
    await conn.execute("UPDATE business.price_changes SET approval_id = %s, approval_expires_at = %s "
                       "WHERE change_no = %s", (approval_id, expires_at, change_no))


async def expire_unanswered(conn: psycopg.AsyncConnection, now: datetime) -> list[tuple[str, list[str]]]:
    """Changes whose approval request expired unanswered, moved to ``rejected``: (change_no, stations)."""
    cur = await conn.execute(
        "UPDATE business.price_changes SET state = 'rejected', decided_at = %s "
        "WHERE state = 'awaiting_approval' AND approval_expires_at <= %s RETURNING change_no, stations", (now, now))
    return [(c, list(s)) for c, s in await cur.fetchall()]


async def due_changes(conn: psycopg.AsyncConnection, now: datetime) -> list[str]:
    """Scheduled changes whose time has come, locked (a second sender skips them)."""
    cur = await conn.execute(
        "SELECT change_no FROM business.price_changes WHERE state = 'scheduled' AND coalesce(effective_at, "
        "requested_at) <= %s ORDER BY effective_at, change_no FOR UPDATE SKIP LOCKED", (now,))
    return [c for (c,) in await cur.fetchall()]


async def defer_send(conn: psycopg.AsyncConnection, task: str, queue: str, at: datetime) -> None:
    """A procrastinate job ``task`` at ``at``, deferred in this transaction: it exists iff the change commits."""
    await conn.execute(
        "SELECT procrastinate_defer_jobs_v1(ARRAY[ROW(%s, %s, 0, NULL, NULL, '{}'::jsonb, %s)"
        "::procrastinate_job_to_defer_v1])", (queue, task, at))


# --- special-price rules ---------------------------------------------------------------------------------

async def add_rule(conn: psycopg.AsyncConnection, *, group: str, kind: str, stations: list[str] | None,
                   grade: str | None, params: dict[str, Any], valid_from: datetime, valid_to: datetime | None,
                   note: str, who: str) -> int:
    cur = await conn.execute(
        """INSERT INTO business.price_rules (company_group, kind, stations, grade, params, valid_from, valid_to,
                                             note, created_by)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id""",
        (group, kind, stations, grade, Jsonb(params), valid_from, valid_to, note, who))
    row = await cur.fetchone()
    if row is None:
        raise LookupError("INSERT … RETURNING gave no row")
    return int(row[0])


async def rule(conn: psycopg.AsyncConnection, rule_id: int, *, lock: bool = False) -> dict[str, Any] | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        query = "SELECT * FROM business.price_rules WHERE id = %s"
        await cur.execute(query + (" FOR UPDATE" if lock else ""), (rule_id,))
        return await cur.fetchone()


async def end_rule(conn: psycopg.AsyncConnection, rule_id: int, at: datetime, who: str) -> None:
    await conn.execute("UPDATE business.price_rules "
                       "SET valid_to = greatest(%s, valid_from + interval '1 microsecond'), ended_by = %s "
                       "WHERE id = %s", (at, who, rule_id))
