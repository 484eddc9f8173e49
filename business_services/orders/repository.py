"""SQL that writes the orders context's tables.

Every change goes through ``changed``: the order's change counter one up, a history row, and
``pg_notify('orders', station)`` in the same transaction (the POS's live list, ``control_api/routes/orders.py``).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from business_services.orders.model import CreateOrder, Due, Tag
from telemetry.contracts.events.fuelling import FuellingCompleted

NOTIFY_CHANNEL = "orders"


async def notify(conn: psycopg.AsyncConnection, station: str) -> None:
    """Wake the station's live order streams once this transaction commits."""
    await conn.execute("SELECT pg_notify(%s, %s)", (NOTIFY_CHANNEL, station))


async def has_fuelling_order(conn: psycopg.AsyncConnection, event_id: str) -> bool:
    cur = await conn.execute("SELECT 1 FROM business.orders WHERE fuelling_event_id = %s", (event_id,))
    return await cur.fetchone() is not None


async def add_fuelling_order(conn: psycopg.AsyncConnection, order_no: str, event_id: str, f: FuellingCompleted,
                             shift_no: str | None, at: datetime) -> None:
    """Insert the order of one fuelling (unique on its event id: a racing second insert fails and rolls back), with
    the price-set version it was sold under."""
    await conn.execute(
        """INSERT INTO business.orders (order_no, station, kind, fuelling_event_id, pump, fuelling_point, nozzle,
               grade, volume_l, price_fen_per_l, totalizer_before_l, totalizer_after_l, amount_fen, status,
               shift_no, fuelled_at, created_at, paid_at, price_set)
           VALUES (%s, %s, 'fuelling', %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
        (order_no, f.station, event_id, f.pump, f.fuelling_point, f.nozzle, f.grade, f.volume_l, f.price_fen_per_l,
         f.totalizer_before_l, f.totalizer_after_l, f.amount_fen, "paid" if f.amount_fen == 0 else "payable",
         shift_no, f.ended_at, at, at if f.amount_fen == 0 else None, f.price_set))


async def add_order(conn: psycopg.AsyncConnection, order_no: str, c: CreateOrder, shift_no: str | None,
                    by: str, at: datetime) -> None:
    """Insert a make-up order or a manual sale."""
    await conn.execute(
        """INSERT INTO business.orders (order_no, station, kind, nozzle, grade, volume_l, price_fen_per_l,
               amount_fen, status, shift_no, created_at, item, reason, created_by, tags)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
        (order_no, c.station, c.kind.value, c.nozzle, c.grade, c.volume_l, c.price_fen_per_l, c.amount_fen,
         c.first_status.value, shift_no, at, c.item, c.reason, by, tags_json(c.tags)))


def tags_json(tags: tuple[Tag, ...]) -> str:
    return json.dumps([{"name": t.name, "amount_fen": t.amount_fen} for t in tags], ensure_ascii=False)


async def locked(conn: psycopg.AsyncConnection, station: str, order_no: str) -> dict[str, Any] | None:
    """The order's row, locked FOR UPDATE until the caller's transaction ends."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("SELECT * FROM business.orders WHERE station = %s AND order_no = %s FOR UPDATE",
                          (station, order_no))
        return await cur.fetchone()


async def update(conn: psycopg.AsyncConnection, order_no: str, **values: Any) -> None:
    """Set the given columns (names are this module's callers' constants, never input)."""
    columns = ", ".join(f"{name} = %s" for name in values)
    await conn.execute(f"UPDATE business.orders SET {columns} WHERE order_no = %s",  # noqa: S608
                       (*values.values(), order_no))


_CHANGED = """
    WITH o AS (UPDATE business.orders SET version = version + 1, changed_at = %(at)s{sets}
               WHERE order_no = %(order_no)s{guard} RETURNING *),
         h AS (INSERT INTO business.order_history (order_no, version, at, action, status, actor, detail)
               SELECT order_no, version, %(at)s::timestamptz, %(action)s::text, status, %(actor)s::text,
                      %(detail)s::jsonb FROM o)
    SELECT o.*, pg_notify(%(channel)s, o.station) AS notified FROM o"""
# a payment (delta > 0) or refund (< 0): the status and the bounds as the table's checks have them
# (0001/0002_orders.sql: paid_fen within 0..amount_fen; 'paid' exactly when paid in full unless written off)
_PAID = """, paid_fen = paid_fen + %(delta_fen)s,
               status = CASE WHEN status = 'written_off' THEN status
                             WHEN paid_fen + %(delta_fen)s = amount_fen THEN 'paid' ELSE 'payable' END,
               paid_at = CASE WHEN status <> 'written_off' AND paid_fen + %(delta_fen)s = amount_fen
                              THEN %(at)s::timestamptz END,
               locked_by = NULL, locked_until = NULL"""
_PAYABLE = """ AND station = %(station)s AND paid_fen + %(delta_fen)s BETWEEN 0 AND amount_fen
               AND (%(delta_fen)s < 0 OR status = ANY(%(may_pay)s))"""


async def changed(conn: psycopg.AsyncConnection, order_no: str, action: str, actor: str, at: datetime,
                  detail: dict[str, Any] | None = None) -> dict[str, Any]:
    """Count one change of the order, in one statement: its version one up, a history row, the live streams
    woken. Returns the order's row as it now is."""
    row = await _changed(conn, "", "", _params(order_no, action, actor, at, detail))
    if row is None:
        raise LookupError(f"no order {order_no}")
    return row


async def paid(conn: psycopg.AsyncConnection, station: str, order_no: str, delta_fen: int, may_pay: frozenset[str],
               action: str, actor: str, at: datetime, detail: dict[str, Any]) -> dict[str, Any] | None:
    """``changed`` for a payment of ``delta_fen`` (a refund: < 0), in the same one statement: the paid amount,
    the status it makes and the POS's lock lifted, only while the order is at ``station``, the amount stays
    within 0 and what the order costs, and a payment finds the order in one of ``may_pay`` (the order's row
    is locked by the statement itself). None, changing nothing, when it is not so."""
    params = _params(order_no, action, actor, at, detail) | {"station": station, "delta_fen": delta_fen,
                                                               "may_pay": list(may_pay)}
    return await _changed(conn, _PAID, _PAYABLE, params)


def _params(order_no: str, action: str, actor: str, at: datetime, detail: dict[str, Any] | None) -> dict[str, Any]:
    return {"at": at, "order_no": order_no, "action": action, "actor": actor,
            "detail": json.dumps(detail or {}, ensure_ascii=False, default=str), "channel": NOTIFY_CHANNEL}


async def _changed(conn: psycopg.AsyncConnection, sets: str, guard: str, params: dict[str, Any]) \
        -> dict[str, Any] | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(_CHANGED.format(sets=sets, guard=guard), params)
        row = await cur.fetchone()
    if row is not None:
        del row["notified"]
    return row


async def dues(conn: psycopg.AsyncConnection, station: str, order_nos: list[str]) -> dict[str, Due]:
    """The station's orders among ``order_nos``, locked FOR UPDATE in order-number order (no deadlock between
    two payments of overlapping orders) until the caller's transaction ends."""
    cur = await conn.execute(
        """SELECT order_no, amount_fen, paid_fen, locked_by, locked_until, status FROM business.orders
           WHERE station = %s AND order_no = ANY(%s) ORDER BY order_no FOR UPDATE""",
        (station, sorted(order_nos)))
    return {row[0]: Due(row[0], int(row[1]), int(row[2]), row[3], row[4], row[5]) for row in await cur.fetchall()}

