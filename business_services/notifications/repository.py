"""SQL that writes the notifications tables (``business.notification_*``), and the deferral of its jobs in the
caller's transaction (a procrastinate job row commits with the step or delivery it runs, or not at all)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from business_services.notifications.model import AlarmFacts, Route, Step
from telemetry.contracts.events.alarms import AlarmState, AlarmTransition, Priority

QUEUE = "notifications"
STEP_TASK = "notifications.run_step"
SEND_TASK = "notifications.send"

Conn = psycopg.AsyncConnection[Any]
#: one row by its key, for reading or (True) locked for a change; table and key are this module's literals
_LOCKED = {False: "SELECT * FROM business.{table} WHERE {key} = %s",
           True: "SELECT * FROM business.{table} WHERE {key} = %s FOR UPDATE"}


async def _new_id(cur: psycopg.AsyncCursor[Any]) -> int:
    row = await cur.fetchone()
    if row is None:
        raise LookupError("INSERT … RETURNING gave no row")
    return int(row[0])


async def defer(conn: Conn, task: str, args: dict[str, Any], at: datetime) -> None:
    """A procrastinate job, in this transaction (the row procrastinate's ``defer`` would write; its insert
    trigger wakes the workers at commit)."""
    await conn.execute("INSERT INTO procrastinate_jobs (queue_name, task_name, args, scheduled_at) "
                       "VALUES (%s, %s, %s, %s)", (QUEUE, task, Jsonb(args), at))


async def now(conn: Conn) -> datetime:
    """The database's clock (procrastinate's, for scheduled jobs)."""
    row = await (await conn.execute("SELECT now()")).fetchone()
    if row is None:
        raise LookupError("SELECT now() gave no row")
    return row[0]  # type: ignore[no-any-return]


# --- alarms (from events) ---------------------------------------------------------------------------------

async def keep_alarm(conn: Conn, t: AlarmTransition, raised: bool) -> bool:
    """Record the alarm's newest state; an older or repeated transition changes nothing. True if it is new."""
    cur = await conn.execute(
        "INSERT INTO business.notification_alarms (alarm_id, station, rule, source, area, priority, kind, message, "
        " value, \"limit\", unit, raised_at, state, active, last_seq) "
        "VALUES (%(alarm_id)s, %(station)s, %(rule)s, %(source)s, %(area)s, %(priority)s, %(kind)s, %(message)s, "
        " %(value)s, %(limit)s, %(unit)s, %(at)s, %(state)s, %(active)s, %(seq)s) "
        "ON CONFLICT (alarm_id) DO UPDATE SET state = EXCLUDED.state, active = EXCLUDED.active, "
        " last_seq = EXCLUDED.last_seq, updated_at = now(), "
        " raised_at = CASE WHEN %(raised)s THEN EXCLUDED.raised_at ELSE notification_alarms.raised_at END, "
        " message = CASE WHEN %(raised)s THEN EXCLUDED.message ELSE notification_alarms.message END, "
        " value = coalesce(EXCLUDED.value, notification_alarms.value) "
        "WHERE notification_alarms.last_seq < EXCLUDED.last_seq "
        "RETURNING (xmax = 0) AS inserted",
        {"alarm_id": t.alarm_id, "station": t.station, "rule": t.rule, "source": t.source, "area": t.area,
         "priority": t.priority.value, "kind": t.kind, "message": t.message, "value": t.value, "limit": t.limit,
         "unit": t.unit, "at": t.at, "state": t.state_to.value, "active": t.active, "seq": t.seq, "raised": raised})
    row = await cur.fetchone()
    return bool(row and row[0])


async def alarm(conn: Conn, alarm_id: uuid.UUID, *, lock: bool = False) -> dict[str, Any] | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(_LOCKED[lock].format(table="notification_alarms", key="alarm_id"), (alarm_id,))
        return await cur.fetchone()


def facts(row: dict[str, Any]) -> AlarmFacts:
    return AlarmFacts(station=row["station"], rule=row["rule"], area=row["area"], priority=Priority(row["priority"]),
                      state=AlarmState(row["state"]), active=row["active"], raised_at=row["raised_at"])


# --- routes and contacts ------------------------------------------------------------------------------------

def step_json(step: Step) -> dict[str, Any]:
    return {"after_minutes": step.after_minutes, "channel": step.channel, "contacts": list(step.contacts),
            "groups": list(step.groups), "webhook_url": step.webhook_url}


def route_from_row(row: dict[str, Any]) -> Route:
    steps = tuple(Step(float(s["after_minutes"]), s["channel"], tuple(s.get("contacts", ())),
                       tuple(s.get("groups", ())), s.get("webhook_url", "")) for s in row["steps"])
    return Route(row["id"], row["name"], steps, row["rule"], Priority(row["min_priority"]), row["station"],
                 row["area"], row["enabled"])


async def enabled_routes(conn: Conn) -> list[Route]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("SELECT * FROM business.notification_routes WHERE enabled ORDER BY id")
        return [route_from_row(r) for r in await cur.fetchall()]


async def route(conn: Conn, route_id: int, *, lock: bool = False) -> dict[str, Any] | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(_LOCKED[lock].format(table="notification_routes", key="id"), (route_id,))
        return await cur.fetchone()


def _route_params(r: Route, by: str) -> dict[str, Any]:
    return {"name": r.name, "rule": r.rule, "min_priority": r.min_priority.value, "station": r.station, "area": r.area,
            "steps": Jsonb([step_json(s) for s in r.steps]), "enabled": r.enabled, "by": by}


async def add_route(conn: Conn, r: Route, by: str) -> int:
    cur = await conn.execute(
        "INSERT INTO business.notification_routes (name, rule, min_priority, station, area, steps, enabled, updated_by)"
        " VALUES (%(name)s, %(rule)s, %(min_priority)s, %(station)s, %(area)s, %(steps)s, %(enabled)s, %(by)s) "
        "RETURNING id", _route_params(r, by))
    return await _new_id(cur)


async def put_route(conn: Conn, r: Route, by: str) -> None:
    await conn.execute(
        "UPDATE business.notification_routes SET name = %(name)s, rule = %(rule)s, min_priority = %(min_priority)s, "
        " station = %(station)s, area = %(area)s, steps = %(steps)s, enabled = %(enabled)s, updated_by = %(by)s, "
        " updated_at = now() WHERE id = %(id)s", {**_route_params(r, by), "id": r.id})


async def delete_route(conn: Conn, route_id: int) -> None:
    await conn.execute("DELETE FROM business.notification_routes WHERE id = %s", (route_id,))


async def contact(conn: Conn, contact_id: int, *, lock: bool = False) -> dict[str, Any] | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(_LOCKED[lock].format(table="notification_contacts", key="id"), (contact_id,))
        return await cur.fetchone()


async def add_contact(conn: Conn, name: str, phone: str | None, openid: str | None, groups: list[str],
                      enabled: bool) -> int:
    cur = await conn.execute(
        "INSERT INTO business.notification_contacts (name, phone, wechat_openid, groups, enabled) "
        "VALUES (%s, %s, %s, %s, %s) RETURNING id", (name, phone, openid, groups, enabled))
    return await _new_id(cur)


async def put_contact(conn: Conn, contact_id: int, name: str, phone: str | None, openid: str | None,
                      groups: list[str], enabled: bool) -> None:
    await conn.execute(
        "UPDATE business.notification_contacts SET name = %s, phone = %s, wechat_openid = %s, groups = %s, "
        "enabled = %s, updated_at = now() WHERE id = %s", (name, phone, openid, groups, enabled, contact_id))


async def addresses(conn: Conn, step: Step) -> list[tuple[str, str]]:
    """(recipient, address) of a step: ``contact:<id>`` with the phone (sms) or openid (wechat) of each enabled
    contact named or in a named group, once each; or the webhook's URL. Contacts without that address are left
    out (the routes page shows them)."""
    if step.channel == "webhook":
        return [(step.webhook_url, step.webhook_url)]
    column = "phone" if step.channel == "sms" else "wechat_openid"
    cur = await conn.execute(
        f"SELECT id, {column} FROM business.notification_contacts "   # noqa: S608   (column from a fixed pair)
        f"WHERE enabled AND {column} IS NOT NULL AND (id = ANY(%s) OR groups && %s) ORDER BY id",
        (list(step.contacts), list(step.groups)))
    return [(f"contact:{r[0]}", str(r[1])) for r in await cur.fetchall()]


# --- steps and deliveries -----------------------------------------------------------------------------------

async def schedule_step(conn: Conn, alarm_id: uuid.UUID, route_id: int, step: int, due: datetime) -> bool:
    """The step's row and its job, once: a redelivered raise finds the row and schedules nothing."""
    cur = await conn.execute(
        "INSERT INTO business.notification_steps (alarm_id, route_id, step, due_at) VALUES (%s, %s, %s, %s) "
        "ON CONFLICT DO NOTHING", (alarm_id, route_id, step, due))
    if cur.rowcount == 0:
        return False
    await defer(conn, STEP_TASK, {"alarm_id": str(alarm_id), "route_id": route_id, "step": step}, due)
    return True


async def waiting_step(conn: Conn, alarm_id: uuid.UUID, route_id: int, step: int) -> dict[str, Any] | None:
    """The step, locked, if it still waits (a second worker on the same job finds it done)."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("SELECT * FROM business.notification_steps WHERE alarm_id = %s AND route_id = %s "
                          "AND step = %s AND status = 'waiting' FOR UPDATE SKIP LOCKED", (alarm_id, route_id, step))
        return await cur.fetchone()


async def finish_step(conn: Conn, alarm_id: uuid.UUID, route_id: int, step: int, status: str, outcome: str) -> None:
    await conn.execute("UPDATE business.notification_steps SET status = %s, outcome = %s, done_at = now() "
                       "WHERE alarm_id = %s AND route_id = %s AND step = %s",
                       (status, outcome[:500], alarm_id, route_id, step))


async def add_delivery(conn: Conn, alarm_id: uuid.UUID, route_id: int, step: int, channel: str, recipient: str,
                       address: str, due: datetime) -> int | None:
    """A message to send, once per (alarm, route, step, recipient), and its send job; None when it exists."""
    cur = await conn.execute(
        "INSERT INTO business.notification_deliveries (alarm_id, route_id, step, channel, recipient, address, due_at)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING id",
        (alarm_id, route_id, step, channel, recipient, address, due))
    row = await cur.fetchone()
    if row is None:
        return None
    await defer(conn, SEND_TASK, {"delivery_id": int(row[0])}, due)
    return int(row[0])


async def claim_delivery(conn: Conn, delivery_id: int, now: datetime) -> dict[str, Any] | None:
    """Take a pending, due delivery for sending (one attempt more); None if another worker has it or it is done."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "UPDATE business.notification_deliveries d SET status = 'sending', attempts = attempts + 1 "
            "FROM business.notification_alarms a WHERE d.id = %s AND d.status = 'pending' AND d.due_at <= %s "
            "AND a.alarm_id = d.alarm_id RETURNING d.*, a.station, a.priority, a.message, a.value, a.\"limit\", "
            "a.unit, a.raised_at", (delivery_id, now))
        return await cur.fetchone()


async def delivered(conn: Conn, delivery_id: int, provider_id: str, now: datetime) -> None:
    await conn.execute("UPDATE business.notification_deliveries SET status = 'sent', provider_id = %s, sent_at = %s, "
                       "last_error = '' WHERE id = %s", (provider_id[:128], now, delivery_id))


async def failed(conn: Conn, delivery_id: int, error: str, retry_at: datetime | None) -> None:
    """A failed attempt: tried again at ``retry_at`` (its job deferred), or given up (``retry_at`` None)."""
    await conn.execute(
        "UPDATE business.notification_deliveries SET status = %s, last_error = %s, due_at = coalesce(%s, due_at) "
        "WHERE id = %s", ("failed" if retry_at is None else "pending", error[:500], retry_at, delivery_id))
    if retry_at is not None:
        await defer(conn, SEND_TASK, {"delivery_id": delivery_id}, retry_at)


async def overdue(conn: Conn, now: datetime, stuck_before: datetime) -> tuple[list[tuple[Any, ...]], list[int]]:
    """Work whose job was lost (a database restored from a backup, a job row deleted by hand): waiting steps and
    pending deliveries well past due, and deliveries left 'sending' by a worker that died mid-send (set back to
    pending: the one case a message can go twice, see docs/notifications.md)."""
    await conn.execute("UPDATE business.notification_deliveries SET status = 'pending' "
                       "WHERE status = 'sending' AND due_at < %s", (stuck_before,))
    steps = await (await conn.execute(
        "SELECT alarm_id, route_id, step FROM business.notification_steps WHERE status = 'waiting' AND due_at < %s",
        (stuck_before,))).fetchall()
    deliveries = await (await conn.execute(
        "SELECT id FROM business.notification_deliveries WHERE status = 'pending' AND due_at < %s",
        (stuck_before,))).fetchall()
    return list(steps), [int(r[0]) for r in deliveries]
