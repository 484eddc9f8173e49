"""SQL that writes the points tables (business_services/points), in the caller's transaction.

The balance itself is the ledger's (``business_services/ledger/repository.post``); ``lots.py`` keeps the two
together. Every change of one member's points first takes that member's lock (``lock_members``), so lots,
debts and the ledger account move in one order per member.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.rows import dict_row

from business_services.points.model import Basis, Lot, Rule, RuleKind, Settings

# ---- locks, settings, rules ----------------------------------------------------------------------------------


async def _id(cur: psycopg.AsyncCursor[Any]) -> int:
    row = await cur.fetchone()
    if row is None:
        raise LookupError("INSERT … RETURNING gave no row")
    return int(row[0])


async def lock_members(conn: psycopg.AsyncConnection, *member_nos: str) -> None:
    """Hold each member's points lock until the transaction ends (in member order: no deadlocks)."""
    for member_no in sorted(set(member_nos)):
        await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 18))", (f"points:{member_no}",))


async def settings(conn: psycopg.AsyncConnection) -> Settings:
    cur = await conn.execute("SELECT expiry_years, points_per_yuan, assign_days FROM business.points_settings")
    row = await cur.fetchone()
    return Settings() if row is None else Settings(*row)


async def save_settings(conn: psycopg.AsyncConnection, new: Settings, by: str) -> None:
    await conn.execute(
        """INSERT INTO business.points_settings (id, expiry_years, points_per_yuan, assign_days, updated_by)
           VALUES (1, %s, %s, %s, %s)
           ON CONFLICT (id) DO UPDATE SET expiry_years = EXCLUDED.expiry_years,
               points_per_yuan = EXCLUDED.points_per_yuan, assign_days = EXCLUDED.assign_days,
               updated_by = EXCLUDED.updated_by, updated_at = now()""",
        (new.expiry_years, new.points_per_yuan, new.assign_days, by))


_RULE_COLUMNS = ("name", "kind", "basis", "rate", "grades", "level", "multiplier", "day_of_month", "weekday",
                 "stations", "bonus", "effective_from", "effective_to")


def _rule_values(rule: Rule) -> tuple[Any, ...]:
    return (rule.name, rule.kind.value, rule.basis.value if rule.basis else None, rule.rate,
            None if rule.grades is None else sorted(rule.grades), rule.level, rule.multiplier, rule.day_of_month,
            rule.weekday, None if rule.stations is None else sorted(rule.stations), rule.bonus,
            rule.effective_from, rule.effective_to)


def rule_of(row: dict[str, Any]) -> Rule:
    return Rule(kind=RuleKind(row["kind"]), effective_from=row["effective_from"], effective_to=row["effective_to"],
                name=row["name"], id=row["id"], basis=Basis(row["basis"]) if row["basis"] else None,
                rate=None if row["rate"] is None else Decimal(row["rate"]),
                grades=None if row["grades"] is None else frozenset(row["grades"]), level=row["level"],
                multiplier=None if row["multiplier"] is None else Decimal(row["multiplier"]),
                day_of_month=row["day_of_month"], weekday=row["weekday"],
                stations=None if row["stations"] is None else frozenset(row["stations"]), bonus=row["bonus"])


async def rule_rows(conn: psycopg.AsyncConnection, rule_id: int | None = None,
                    for_update: bool = False) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("SELECT * FROM business.points_rules WHERE (%(id)s::bigint IS NULL OR id = %(id)s) "  # noqa: S608
                          "ORDER BY id" + (" FOR UPDATE" if for_update else ""), {"id": rule_id})
        return await cur.fetchall()


async def rules(conn: psycopg.AsyncConnection) -> list[Rule]:
    return [rule_of(row) for row in await rule_rows(conn)]


async def add_rule(conn: psycopg.AsyncConnection, rule: Rule, note: str, by: str) -> int:
    cur = await conn.execute(
        f"INSERT INTO business.points_rules ({', '.join(_RULE_COLUMNS)}, note, created_by) "   # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(_RULE_COLUMNS))}, %s, %s) RETURNING id", (*_rule_values(rule), note, by))
    return await _id(cur)


async def replace_rule(conn: psycopg.AsyncConnection, rule: Rule, note: str) -> None:
    sets = ", ".join(f"{c} = %s" for c in _RULE_COLUMNS)
    await conn.execute(f"UPDATE business.points_rules SET {sets}, note = %s, changed_at = now() WHERE id = %s",  # noqa: S608
                       (*_rule_values(rule), note, rule.id))


# ---- lots ----------------------------------------------------------------------------------------------------

async def open_lots(conn: psycopg.AsyncConnection, member_no: str) -> list[Lot]:
    """The member's lots with points left, locked (the member's lock is held already)."""
    cur = await conn.execute("SELECT id, remaining, expires_at FROM business.points_lots "
                             "WHERE member_no = %s AND remaining > 0 ORDER BY expires_at, id FOR UPDATE", (member_no,))
    return [Lot(*row) for row in await cur.fetchall()]


async def add_lot(conn: psycopg.AsyncConnection, member_no: str, points: int, remaining: int, source: str,
                  reference: str, station: str | None, earned_at: datetime, expires_at: datetime) -> int:
    cur = await conn.execute(
        """INSERT INTO business.points_lots (member_no, points, remaining, source, reference, station, earned_at,
                                             expires_at)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id""",
        (member_no, points, remaining, source, reference, station, earned_at, expires_at))
    return await _id(cur)


async def take_from_lot(conn: psycopg.AsyncConnection, lot_id: int, points: int, expired: bool = False) -> None:
    await conn.execute("UPDATE business.points_lots SET remaining = remaining - %s, "
                       "expired_points = expired_points + %s WHERE id = %s",
                       (points, points if expired else 0, lot_id))


async def members_with_due_lots(conn: psycopg.AsyncConnection, now: datetime) -> list[str]:
    cur = await conn.execute("SELECT DISTINCT member_no FROM business.points_lots "
                             "WHERE remaining > 0 AND expires_at <= %s ORDER BY member_no", (now,))
    return [row[0] for row in await cur.fetchall()]


async def due_lots(conn: psycopg.AsyncConnection, member_no: str, now: datetime) -> list[Lot]:
    cur = await conn.execute("SELECT id, remaining, expires_at FROM business.points_lots WHERE member_no = %s "
                             "AND remaining > 0 AND expires_at <= %s ORDER BY id FOR UPDATE", (member_no, now))
    return [Lot(*row) for row in await cur.fetchall()]


# ---- debts ---------------------------------------------------------------------------------------------------

async def owed(conn: psycopg.AsyncConnection, member_no: str) -> int:
    cur = await conn.execute("SELECT owed FROM business.points_debts WHERE member_no = %s", (member_no,))
    row = await cur.fetchone()
    return 0 if row is None else int(row[0])


async def change_debt(conn: psycopg.AsyncConnection, member_no: str, change: int, reason: str,
                      reference: str) -> None:
    if change > 0:
        await conn.execute(
            """INSERT INTO business.points_debts (member_no, owed) VALUES (%s, %s)
               ON CONFLICT (member_no) DO UPDATE SET owed = business.points_debts.owed + EXCLUDED.owed,
                                                     changed_at = now()""", (member_no, change))
    else:
        await conn.execute("UPDATE business.points_debts SET owed = owed + %s, changed_at = now() "
                           "WHERE member_no = %s", (change, member_no))
    await conn.execute("INSERT INTO business.points_debt_changes (member_no, change, reason, reference) "
                       "VALUES (%s, %s, %s, %s)", (member_no, change, reason, reference))


# ---- what orders earned --------------------------------------------------------------------------------------

async def order_award(conn: psycopg.AsyncConnection, station: str, order_no: str) -> dict[str, Any] | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("SELECT * FROM business.points_order_awards WHERE station = %s AND order_no = %s "
                          "FOR UPDATE", (station, order_no))
        return await cur.fetchone()


async def record_award(conn: psycopg.AsyncConnection, station: str, order_no: str, member_no: str,
                       amount_fen: int, earned: int, lot_id: int | None, sold_at: datetime) -> bool:
    cur = await conn.execute(
        """INSERT INTO business.points_order_awards (station, order_no, member_no, amount_fen, earned, lot_id,
                                                     sold_at)
           VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING 1""",
        (station, order_no, member_no, amount_fen, earned, lot_id, sold_at))
    return await cur.fetchone() is not None


async def add_reversed(conn: psycopg.AsyncConnection, station: str, order_no: str, points: int) -> None:
    await conn.execute("UPDATE business.points_order_awards SET reversed = reversed + %s "
                       "WHERE station = %s AND order_no = %s", (points, station, order_no))


async def move_award(conn: psycopg.AsyncConnection, station: str, order_no: str, to_member: str) -> None:
    """积分归属: the order's points are ``to_member``'s now (who held them before is kept)."""
    await conn.execute("UPDATE business.points_order_awards SET assigned_from = CASE WHEN member_no = %s THEN "
                       "assigned_from ELSE member_no END, member_no = %s, assigned_at = now() "
                       "WHERE station = %s AND order_no = %s", (to_member, to_member, station, order_no))


async def keep_pending(conn: psycopg.AsyncConnection, station: str, order_no: str, member_no: str,
                       paid_at: datetime) -> None:
    await conn.execute(
        """INSERT INTO business.points_pending_orders (station, order_no, member_no, paid_at) VALUES (%s, %s, %s, %s)
           ON CONFLICT (station, order_no) DO UPDATE SET member_no = EXCLUDED.member_no, paid_at = EXCLUDED.paid_at""",
        (station, order_no, member_no, paid_at))


async def take_pending(conn: psycopg.AsyncConnection, station: str, order_no: str) -> tuple[str, datetime] | None:
    cur = await conn.execute("DELETE FROM business.points_pending_orders WHERE station = %s AND order_no = %s "
                             "RETURNING member_no, paid_at", (station, order_no))
    row = await cur.fetchone()
    return None if row is None else (row[0], row[1])


async def is_pending(conn: psycopg.AsyncConnection, station: str, order_no: str) -> bool:
    cur = await conn.execute("SELECT 1 FROM business.points_pending_orders WHERE station = %s AND order_no = %s",
                             (station, order_no))
    return await cur.fetchone() is not None


async def keep_early_refund(conn: psycopg.AsyncConnection, station: str, order_no: str, refund_no: str,
                            amount_fen: int, at: datetime) -> None:
    """A refund of an order whose points are not awarded yet (its order.created is still on its way)."""
    await conn.execute("INSERT INTO business.points_early_refunds (station, order_no, refund_no, amount_fen, "
                       "refunded_at) VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                       (station, order_no, refund_no, amount_fen, at))


async def take_early_refunds(conn: psycopg.AsyncConnection, station: str,
                             order_no: str) -> list[tuple[str, int, datetime]]:
    cur = await conn.execute("DELETE FROM business.points_early_refunds WHERE station = %s AND order_no = %s "
                             "RETURNING refund_no, amount_fen, refunded_at", (station, order_no))
    return sorted((row[0], int(row[1]), row[2]) for row in await cur.fetchall())


async def record_refund(conn: psycopg.AsyncConnection, station: str, refund_no: str, member_no: str,
                        wanted: int, taken: int, owed_now: int) -> bool:
    cur = await conn.execute(
        """INSERT INTO business.points_refunds (station, refund_no, member_no, wanted, taken, owed)
           VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING 1""",
        (station, refund_no, member_no, wanted, taken, owed_now))
    return await cur.fetchone() is not None


async def refund_recorded(conn: psycopg.AsyncConnection, station: str, refund_no: str) -> bool:
    cur = await conn.execute("SELECT 1 FROM business.points_refunds WHERE station = %s AND refund_no = %s",
                             (station, refund_no))
    return await cur.fetchone() is not None


# ---- the mall and transfers ----------------------------------------------------------------------------------

ITEM_COLUMNS = ("name", "kind", "points", "stock", "value_fen", "active", "note")


async def item(conn: psycopg.AsyncConnection, sku: str, for_update: bool = False) -> dict[str, Any] | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("SELECT * FROM business.points_mall_items WHERE sku = %s"  # noqa: S608
                          + (" FOR UPDATE" if for_update else ""), (sku,))
        return await cur.fetchone()


async def add_item(conn: psycopg.AsyncConnection, sku: str, values: dict[str, Any]) -> bool:
    cur = await conn.execute(
        f"INSERT INTO business.points_mall_items (sku, {', '.join(ITEM_COLUMNS)}) "   # noqa: S608
        f"VALUES (%s, {', '.join(['%s'] * len(ITEM_COLUMNS))}) ON CONFLICT DO NOTHING RETURNING 1",
        (sku, *(values[c] for c in ITEM_COLUMNS)))
    return await cur.fetchone() is not None


async def change_item(conn: psycopg.AsyncConnection, sku: str, values: dict[str, Any]) -> None:
    sets = ", ".join(f"{c} = %({c})s" for c in values)
    await conn.execute(f"UPDATE business.points_mall_items SET {sets}, changed_at = now() WHERE sku = %(sku)s",  # noqa: S608
                       values | {"sku": sku})


async def record_redemption(conn: psycopg.AsyncConnection, redemption_no: str, member_no: str, sku: str,
                            quantity: int, points: int, station: str | None, by: str, at: datetime) -> bool:
    cur = await conn.execute(
        """INSERT INTO business.points_redemptions (redemption_no, member_no, sku, quantity, points, station,
                                                    redeemed_by, redeemed_at)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING 1""",
        (redemption_no, member_no, sku, quantity, points, station, by, at))
    return await cur.fetchone() is not None


async def record_transfer(conn: psycopg.AsyncConnection, transfer_no: str, kind: str, from_member: str,
                          to_member: str, points: int, reference: str, by: str, at: datetime) -> bool:
    cur = await conn.execute(
        """INSERT INTO business.points_transfers (transfer_no, kind, from_member, to_member, points, reference,
                                                  by_user, at)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING 1""",
        (transfer_no, kind, from_member, to_member, points, reference, by, at))
    return await cur.fetchone() is not None
