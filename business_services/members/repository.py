"""SQL that writes the members context's tables (members, levels, growth, tags); handlers and jobs call it with
their unit of work's connection."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from business_services.members.model import Level, RegisterMember, TagRule

_MEMBER = """member_no, company_group, phone, name, gender, birthday, source, station, id_number_masked, real_name,
             qr_token, level, growth, lifecycle, recency_days, frequency_90d, monetary_90d_fen, status,
             registered_at, updated_at, erased_at, wechat_openid, wechat_unionid"""


async def insert_member(conn: psycopg.AsyncConnection, c: RegisterMember, qr_token: str,
                        level: str) -> dict[str, Any] | None:
    """The new member, or None when the company already has a member with this phone."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "INSERT INTO business.members (member_no, company_group, phone, name, gender, birthday, source, station, "
            "  id_number_masked, real_name, qr_token, level) "
            "VALUES ('M' || lpad(nextval('business.member_numbers')::text, 8, '0'), %s, %s, %s, %s, %s, %s, %s, %s, "
            "        %s, %s, %s) "
            "ON CONFLICT (company_group, phone) DO NOTHING RETURNING " + _MEMBER,
            (c.group, c.phone, c.name, c.gender.value, c.birthday, c.source.value, c.station,
             c.id_number.masked if c.id_number else None, "checked" if c.id_number else "none", qr_token, level))
        return await cur.fetchone()


async def member(conn: psycopg.AsyncConnection, member_no: str, *, lock: bool = False) -> dict[str, Any] | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("SELECT " + _MEMBER + " FROM business.members WHERE member_no = %s"   # noqa: S608
                          + (" FOR UPDATE" if lock else ""), (member_no,))
        return await cur.fetchone()


async def member_no_by_phone(conn: psycopg.AsyncConnection, group: str, phone: str) -> str | None:
    cur = await conn.execute("SELECT member_no FROM business.members WHERE company_group = %s AND phone = %s",
                             (group, phone))
    row = await cur.fetchone()
    return None if row is None else str(row[0])


async def member_no_by_openid(conn: psycopg.AsyncConnection, group: str, openid: str) -> str | None:
    cur = await conn.execute("SELECT member_no FROM business.members WHERE company_group = %s AND wechat_openid = %s",
                             (group, openid))
    row = await cur.fetchone()
    return None if row is None else str(row[0])


async def lock_openid(conn: psycopg.AsyncConnection, group: str, openid: str) -> None:
    """Until this transaction ends, no other WeChat registration of this openid runs (the same person twice at
    once: the second waits, then finds the first one's member)."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('members.wechat:' || %s || ':' || %s, 0))",
                       (group, openid))


async def bind_wechat(conn: psycopg.AsyncConnection, member_no: str, openid: str,
                      unionid: str | None) -> tuple[str | None, str | None] | None:
    """Bind the WeChat ids to the member; the ids it held before, or None when it held these already."""
    cur = await conn.execute(
        """UPDATE business.members m SET wechat_openid = %s, wechat_unionid = coalesce(%s, m.wechat_unionid),
                  updated_at = now()
           FROM (SELECT wechat_openid, wechat_unionid FROM business.members WHERE member_no = %s FOR UPDATE) b
           WHERE m.member_no = %s AND (m.wechat_openid IS DISTINCT FROM %s
                                      OR (%s::text IS NOT NULL AND m.wechat_unionid IS DISTINCT FROM %s))
           RETURNING b.wechat_openid, b.wechat_unionid""",
        (openid, unionid, member_no, member_no, openid, unionid, unionid))
    row = await cur.fetchone()
    return None if row is None else (row[0], row[1])


_EDITABLE = ("phone", "name", "gender", "birthday", "id_number_masked", "real_name")


async def update_profile(conn: psycopg.AsyncConnection, member_no: str, changes: dict[str, Any]) -> dict[str, Any]:
    """Set the changed profile fields (names from ``_EDITABLE`` only); the member after."""
    columns = [c for c in changes if c in _EDITABLE]
    assignments = sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(c)) for c in columns)
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(sql.SQL("UPDATE business.members SET {}, updated_at = now() WHERE member_no = %s "  # noqa: S608
                                  "RETURNING " + _MEMBER).format(assignments),
                          [*(changes[c] for c in columns), member_no])
        row = await cur.fetchone()
    if row is None:
        raise LookupError(member_no)
    return row


async def erase(conn: psycopg.AsyncConnection, member_no: str, qr_token: str) -> None:
    """Anonymise: the personal fields emptied, a new QR token (the old code finds nobody), unlisted."""
    await conn.execute(
        """UPDATE business.members SET phone = NULL, name = NULL, birthday = NULL, gender = 'unknown',
                  id_number_masked = NULL, wechat_openid = NULL, wechat_unionid = NULL, real_name = 'none',
                  qr_token = %s, status = 'erased',
                  erased_at = now(), updated_at = now()
           WHERE member_no = %s""", (qr_token, member_no))
    await conn.execute("DELETE FROM business.member_tag_links WHERE member_no = %s", (member_no,))


# --- levels -----------------------------------------------------------------------------------------------------

async def levels(conn: psycopg.AsyncConnection) -> list[Level]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("""SELECT code, name, rank, growth_min, discount_pct,
                                    points_multiplier::float8 AS points_multiplier, birthday_privilege
                             FROM business.member_levels ORDER BY rank""")
        return [Level(**row) for row in await cur.fetchall()]


async def save_level(conn: psycopg.AsyncConnection, level: Level, create: bool) -> bool:
    """Insert (``create``) or update the level; False when there was nothing to update (no such level) or the
    code is taken. The UNIQUE rank and growth_min raise ``UniqueViolation`` for a clash with another level."""
    values = (level.name, level.rank, level.growth_min, level.discount_pct, level.points_multiplier,
              level.birthday_privilege, level.code)
    if create:
        cur = await conn.execute(
            """INSERT INTO business.member_levels (name, rank, growth_min, discount_pct, points_multiplier,
                   birthday_privilege, code) VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (code) DO NOTHING""",
            values)
    else:
        cur = await conn.execute(
            """UPDATE business.member_levels SET name = %s, rank = %s, growth_min = %s, discount_pct = %s,
                   points_multiplier = %s, birthday_privilege = %s, updated_at = now() WHERE code = %s""", values)
    return cur.rowcount == 1


async def set_level(conn: psycopg.AsyncConnection, member_no: str, from_level: str, to_level: str,
                    reason: str) -> None:
    await conn.execute("UPDATE business.members SET level = %s, updated_at = now() WHERE member_no = %s",
                       (to_level, member_no))
    await conn.execute("INSERT INTO business.member_level_changes (member_no, from_level, to_level, reason) "
                       "VALUES (%s, %s, %s, %s)", (member_no, from_level, to_level, reason))


async def members_at_level(conn: psycopg.AsyncConnection, code: str) -> list[str]:
    cur = await conn.execute("SELECT member_no FROM business.members WHERE level = %s AND status <> 'erased' "
                             "ORDER BY member_no", (code,))
    return [str(r[0]) for r in await cur.fetchall()]


# --- growth -----------------------------------------------------------------------------------------------------

async def add_growth(conn: psycopg.AsyncConnection, key: str, member_no: str, station: str, reference: str,
                     amount_fen: int, growth: int, at: datetime) -> bool:
    """Record one order's or refund's growth once by ``key``; False when it was already recorded."""
    cur = await conn.execute(
        """INSERT INTO business.member_growth (key, member_no, station, reference, amount_fen, growth, at)
           VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (key) DO NOTHING""",
        (key, member_no, station, reference, amount_fen, growth, at))
    if cur.rowcount != 1:
        return False
    await conn.execute("UPDATE business.members SET growth = greatest(growth + %s, 0), updated_at = now() "
                       "WHERE member_no = %s", (growth, member_no))
    return True


async def year_growth(conn: psycopg.AsyncConnection, member_no: str, now: datetime) -> int:
    cur = await conn.execute("SELECT coalesce(sum(growth), 0) FROM business.member_growth "
                             "WHERE member_no = %s AND at > %s::timestamptz - interval '365 days'", (member_no, now))
    row = await cur.fetchone()
    return max(int(row[0]) if row else 0, 0)


async def year_growth_of_all(conn: psycopg.AsyncConnection, now: datetime) -> list[tuple[str, str, int]]:
    """(member_no, level, growth of the last 365 days) of every member not erased (the yearly review)."""
    cur = await conn.execute(
        """SELECT m.member_no, m.level, greatest(coalesce(sum(g.growth), 0), 0)::bigint
           FROM business.members m LEFT JOIN business.member_growth g
                ON g.member_no = m.member_no AND g.at > %s::timestamptz - interval '365 days'
           WHERE m.status <> 'erased' GROUP BY m.member_no, m.level ORDER BY m.member_no""", (now,))
    return [(str(r[0]), str(r[1]), int(r[2])) for r in await cur.fetchall()]


async def claim_review(conn: psycopg.AsyncConnection, year: int) -> bool:
    """True when ``year``'s review is not done yet (this transaction now holds it; a concurrent run waits and then
    finds it done)."""
    cur = await conn.execute("INSERT INTO business.member_level_reviews (year, changed) VALUES (%s, 0) "
                             "ON CONFLICT (year) DO NOTHING", (year,))
    return cur.rowcount == 1


async def reviewed(conn: psycopg.AsyncConnection, year: int, changed: int) -> None:
    await conn.execute("UPDATE business.member_level_reviews SET changed = %s, at = now() WHERE year = %s",
                       (changed, year))


# --- lifecycle (RFM) ----------------------------------------------------------------------------------------------

async def rfm_of_all(conn: psycopg.AsyncConnection, now: datetime) -> list[dict[str, Any]]:
    """Each member's registration, last paid order and the count and sum of the last 90 days' paid orders."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            """SELECT m.member_no, m.lifecycle, m.registered_at,
                      max(g.at) FILTER (WHERE g.amount_fen > 0) AS last_order_at,
                      count(*) FILTER (WHERE g.amount_fen > 0 AND g.at > %(now)s::timestamptz - interval '90 days')
                          AS orders_90d,
                      coalesce(sum(g.amount_fen) FILTER (WHERE g.at > %(now)s::timestamptz - interval '90 days'), 0)
                          AS amount_90d_fen
               FROM business.members m LEFT JOIN business.member_growth g ON g.member_no = m.member_no
               WHERE m.status <> 'erased'
               GROUP BY m.member_no ORDER BY m.member_no""", {"now": now})
        return await cur.fetchall()


async def set_rfm(conn: psycopg.AsyncConnection, member_no: str, lifecycle: str, recency_days: int | None,
                  orders_90d: int, amount_90d_fen: int) -> bool:
    """Store what the lifecycle job computed; True when the lifecycle stage changed."""
    cur = await conn.execute(
        """UPDATE business.members m SET lifecycle = %s, recency_days = %s, frequency_90d = %s,
                  monetary_90d_fen = %s
           FROM (SELECT lifecycle AS before FROM business.members WHERE member_no = %s) b
           WHERE m.member_no = %s RETURNING b.before <> m.lifecycle""",
        (lifecycle, recency_days, orders_90d, max(amount_90d_fen, 0), member_no, member_no))
    row = await cur.fetchone()
    return bool(row and row[0])


# --- tags ---------------------------------------------------------------------------------------------------------

async def tag(conn: psycopg.AsyncConnection, tag_id: int) -> dict[str, Any] | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("SELECT id, name, kind, rule, description FROM business.member_tags WHERE id = %s",
                          (tag_id,))
        return await cur.fetchone()


async def link_tag(conn: psycopg.AsyncConnection, member_no: str, tag_id: int) -> bool:
    cur = await conn.execute("INSERT INTO business.member_tag_links (member_no, tag_id) VALUES (%s, %s) "
                             "ON CONFLICT DO NOTHING", (member_no, tag_id))
    return cur.rowcount == 1


async def unlink_tag(conn: psycopg.AsyncConnection, member_no: str, tag_id: int) -> bool:
    cur = await conn.execute("DELETE FROM business.member_tag_links WHERE member_no = %s AND tag_id = %s",
                             (member_no, tag_id))
    return cur.rowcount == 1


async def save_tag(conn: psycopg.AsyncConnection, tag_id: int | None, name: str, rule: TagRule | None,
                   description: str) -> dict[str, Any] | None:
    """The tag after (None: no tag ``tag_id``); a taken name raises ``UniqueViolation``."""
    rule_json = None if rule is None else Jsonb(rule.as_json())
    kind = "manual" if rule is None else "rule"
    async with conn.cursor(row_factory=dict_row) as cur:
        if tag_id is None:
            await cur.execute("INSERT INTO business.member_tags (name, kind, rule, description) "
                              "VALUES (%s, %s, %s, %s) RETURNING id, name, kind, rule, description",
                              (name, kind, rule_json, description))
        else:
            await cur.execute("UPDATE business.member_tags SET name = %s, kind = %s, rule = %s, description = %s "
                              "WHERE id = %s RETURNING id, name, kind, rule, description",
                              (name, kind, rule_json, description, tag_id))
        return await cur.fetchone()


async def rule_tags(conn: psycopg.AsyncConnection) -> list[tuple[int, TagRule]]:
    cur = await conn.execute("SELECT id, rule FROM business.member_tags WHERE kind = 'rule' ORDER BY id")
    return [(int(r[0]), TagRule.parse(r[1])) for r in await cur.fetchall()]


async def apply_rule_tag(conn: psycopg.AsyncConnection, tag_id: int, rule: TagRule, now: datetime) -> int:
    """Give the tag to every member the rule now holds for and take it from the rest; rows changed."""
    measure = "count(*)" if rule.kind.value == "orders_in_days" else "sum(g.amount_fen)"
    holds = f"""SELECT g.member_no FROM business.member_growth g JOIN business.members m USING (member_no)
                WHERE m.status <> 'erased' AND g.amount_fen > 0
                  AND g.at > %(now)s::timestamptz - make_interval(days => %(days)s)
                GROUP BY g.member_no HAVING {measure} >= %(at_least)s"""  # noqa: S608 (our own text)
    params = {"now": now, "days": rule.days, "at_least": rule.at_least, "tag": tag_id}
    added = await conn.execute(f"INSERT INTO business.member_tag_links (member_no, tag_id) "  # noqa: S608
                               f"SELECT member_no, %(tag)s FROM ({holds}) h ON CONFLICT DO NOTHING", params)
    removed = await conn.execute(f"DELETE FROM business.member_tag_links WHERE tag_id = %(tag)s "  # noqa: S608
                                 f"AND member_no NOT IN ({holds})", params)
    return added.rowcount + removed.rowcount
