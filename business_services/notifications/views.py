"""Read queries of notifications for the API: the routing table, contacts, and what was sent for an alarm.

Personal data: a contact's phone and a delivery's address (phone or openid) are masked here unless the reader
holds ``pii:read`` (``full``); the one place that decides what a reader sees.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import psycopg

from business_services.notifications import repository
from business_services.notifications.model import mask_address, mask_phone
from business_services.pages import After, Sort, keyset_page

BY_ID = Sort("id", int)
BY_CREATED = Sort("created_at", datetime, descending=True)

Conn = psycopg.AsyncConnection[Any]


def route_json(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "name": row["name"], "rule": row["rule"], "min_priority": row["min_priority"],
            "station": row["station"], "area": row["area"], "steps": row["steps"], "enabled": row["enabled"],
            "updated_at": row["updated_at"], "updated_by": row["updated_by"]}


async def routes(conn: Conn, stations: frozenset[str] | None, limit: int,
                 after: After | None) -> tuple[list[dict[str, Any]], int, After | None]:
    """Routes the reader may see: every route for a reader of every station; else the routes of its stations
    and those of no station (company-wide routes, read-only to it)."""
    query = ("SELECT * FROM business.notification_routes "
             "WHERE %(all)s OR station IS NULL OR station = ANY(%(stations)s)")
    rows, total, last = await keyset_page(conn, query, {"all": stations is None, "stations": sorted(stations or ())},
                                          BY_ID, limit, after)
    return [route_json(r) for r in rows], total, last


async def route(conn: Conn, route_id: int) -> dict[str, Any] | None:
    row = await repository.route(conn, route_id)
    return None if row is None else route_json(row)


def contact_json(row: dict[str, Any], full: bool) -> dict[str, Any]:
    phone = row["phone"]
    openid = row["wechat_openid"]
    return {"id": row["id"], "name": row["name"],
            "phone": phone if full or phone is None else mask_phone(phone),
            "wechat_openid": openid if full or openid is None else mask_address("wechat", openid),
            "groups": row["groups"], "enabled": row["enabled"], "updated_at": row["updated_at"]}


async def contacts(conn: Conn, full: bool, limit: int,
                   after: After | None) -> tuple[list[dict[str, Any]], int, After | None]:
    rows, total, last = await keyset_page(conn, "SELECT * FROM business.notification_contacts", {}, BY_ID, limit,
                                          after)
    return [contact_json(r, full) for r in rows], total, last


async def contact(conn: Conn, contact_id: int, full: bool) -> dict[str, Any] | None:
    row = await repository.contact(conn, contact_id)
    return None if row is None else contact_json(row, full)


def delivery_json(row: dict[str, Any], full: bool) -> dict[str, Any]:
    return {"id": row["id"], "alarm_id": str(row["alarm_id"]), "station": row["station"], "route_id": row["route_id"],
            "route": row["route_name"], "step": row["step"], "channel": row["channel"], "recipient": row["recipient"],
            "recipient_name": row["contact_name"],
            "address": row["address"] if full else mask_address(row["channel"], row["address"]),
            "status": row["status"], "attempts": row["attempts"], "last_error": row["last_error"],
            "provider_id": row["provider_id"], "created_at": row["created_at"], "sent_at": row["sent_at"]}


async def deliveries(conn: Conn, alarm_id: uuid.UUID | None, stations: frozenset[str] | None, full: bool,
                     limit: int, after: After | None) -> tuple[list[dict[str, Any]], int, After | None]:
    """What was sent where (newest first), for one alarm or all, within the reader's stations."""
    query = ("SELECT d.*, a.station, r.name AS route_name, c.name AS contact_name "
             "FROM business.notification_deliveries d "
             "JOIN business.notification_alarms a USING (alarm_id) "
             "LEFT JOIN business.notification_routes r ON r.id = d.route_id "
             "LEFT JOIN business.notification_contacts c ON d.recipient = 'contact:' || c.id "
             "WHERE (%(alarm)s::uuid IS NULL OR d.alarm_id = %(alarm)s) "
             "AND (%(all)s OR a.station = ANY(%(stations)s))")
    rows, total, last = await keyset_page(
        conn, query, {"alarm": alarm_id, "all": stations is None, "stations": sorted(stations or ())},
        BY_CREATED, limit, after)
    return [delivery_json(r, full) for r in rows], total, last


async def steps(conn: Conn, alarm_id: uuid.UUID) -> list[dict[str, Any]]:
    """The alarm's scheduled steps: due, done or cancelled (and why)."""
    cur = await conn.execute("SELECT route_id, step, due_at, status, outcome, done_at "
                             "FROM business.notification_steps WHERE alarm_id = %s ORDER BY due_at, route_id, step",
                             (alarm_id,))
    return [{"route_id": r[0], "step": r[1], "due_at": r[2], "status": r[3], "outcome": r[4], "done_at": r[5]}
            for r in await cur.fetchall()]


async def alarm_station(conn: Conn, alarm_id: uuid.UUID) -> str | None:
    cur = await conn.execute("SELECT station FROM business.notification_alarms WHERE alarm_id = %s", (alarm_id,))
    row = await cur.fetchone()
    return None if row is None else str(row[0])
