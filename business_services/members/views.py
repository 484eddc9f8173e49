"""Read queries of members for the API, the 360° page, exports, the member list feed and other contexts: plain
rows, unmasked (an answer goes through ``model.shown`` with the reader's ``Disclosure``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from typing import Annotated, Any

import psycopg
from psycopg.rows import dict_row
from pydantic import BaseModel, ConfigDict, Field

from business_services.drive_through import repository as drive_through
from business_services.exports.model import Column
from business_services.members import sections
from business_services.members.model import Disclosure, Lifecycle, shown
from business_services.pages import After, Sort, keyset_page
from business_services.station_orders import views as station_orders
from business_services.vehicles import views as vehicles
from telemetry.contracts.members import ListedMember, mask_phone, phone_digest

NEWEST_FIRST = Sort("registered_at", datetime, descending=True, tiebreak="member_no", tiebreak_kind=str)
LIFECYCLE_NAMES = {Lifecycle.NEW: "新客", Lifecycle.ACTIVE: "活跃", Lifecycle.DORMANT: "沉睡", Lifecycle.LOST: "流失"}

_LISTED = """m.member_no, m.phone, m.name, m.gender, m.birthday, m.source, m.station, m.level, l.name AS level_name,
             m.growth, m.lifecycle, m.real_name, m.status, m.registered_at,
             coalesce((SELECT array_agg(v.plate ORDER BY v.id) FROM business.vehicles v
                       WHERE v.member_no = m.member_no), '{}') AS plates,
             coalesce((SELECT array_agg(t.name ORDER BY t.name) FROM business.member_tag_links k
                       JOIN business.member_tags t ON t.id = k.tag_id WHERE k.member_no = m.member_no), '{}') AS tags"""


class MemberFilter(BaseModel):
    """The member list's filters (the list page and its Excel export)."""

    model_config = ConfigDict(extra="forbid")
    q: Annotated[str, Field(max_length=32, description="会员号、姓名或手机号后 4 位以上")] = ""
    phone: Annotated[str, Field(max_length=16, pattern=r"^[0-9]*$")] = ""
    name: Annotated[str, Field(max_length=32)] = ""
    plate: Annotated[str, Field(max_length=10)] = ""
    level: Annotated[str, Field(max_length=32)] = ""
    tag: Annotated[int | None, Field(ge=1, lt=2**63)] = None
    lifecycle: Lifecycle | None = None


def _query(f: MemberFilter, scope: frozenset[str] | None) -> tuple[str, dict[str, Any]]:
    query = f"""SELECT {_LISTED} FROM business.members m JOIN business.member_levels l ON l.code = m.level
                WHERE m.status <> 'erased' AND (%(all)s OR m.station = ANY(%(scope)s))
                  AND (%(q)s = '' OR m.member_no LIKE upper(%(q)s) || '%%' OR m.name LIKE '%%' || %(q)s || '%%'
                       OR (length(%(q)s) >= 4 AND %(q)s ~ '^[0-9]+$' AND m.phone LIKE '%%' || %(q)s))
                  AND (%(phone)s = '' OR m.phone = %(phone)s)
                  AND (%(name)s = '' OR m.name LIKE '%%' || %(name)s || '%%')
                  AND (%(plate)s = '' OR EXISTS (SELECT 1 FROM business.vehicles v WHERE v.member_no = m.member_no
                                                 AND v.plate LIKE upper(%(plate)s) || '%%'))
                  AND (%(level)s = '' OR m.level = %(level)s)
                  AND (%(tag)s::bigint IS NULL OR EXISTS (SELECT 1 FROM business.member_tag_links k
                                                         WHERE k.member_no = m.member_no AND k.tag_id = %(tag)s))
                  AND (%(lifecycle)s::text IS NULL OR m.lifecycle = %(lifecycle)s)"""  # noqa: S608 (our own text)
    params = {"all": scope is None, "scope": sorted(scope or ()), "q": f.q.strip(), "phone": f.phone,
              "name": f.name.strip(), "plate": f.plate.strip(), "level": f.level, "tag": f.tag,
              "lifecycle": f.lifecycle.value if f.lifecycle else None}
    return query, params


async def page(conn: psycopg.AsyncConnection, f: MemberFilter, scope: frozenset[str] | None, after: After | None,
               limit: int) -> tuple[list[dict[str, Any]], int, After | None]:
    """Members newest first (not erased ones); a station-scoped caller sees those registered at its stations."""
    query, params = _query(f, scope)
    return await keyset_page(conn, query, params, NEWEST_FIRST, limit, after)


async def profile(conn: psycopg.AsyncConnection, member_no: str) -> dict[str, Any] | None:
    """The member with its level's benefits (an erased member too: its number and money history stay)."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            """SELECT m.member_no, m.phone, m.name, m.gender, m.birthday, m.source, m.station, m.id_number_masked,
                      m.real_name, m.qr_token, m.level, l.name AS level_name, l.discount_pct,
                      l.points_multiplier::float8 AS points_multiplier, l.birthday_privilege, m.growth, m.lifecycle,
                      m.recency_days, m.frequency_90d, m.monetary_90d_fen, m.status, m.registered_at, m.updated_at,
                      m.erased_at, m.company_group, m.wechat_openid, m.wechat_unionid
               FROM business.members m JOIN business.member_levels l ON l.code = m.level WHERE m.member_no = %s""",
            (member_no,))
        return await cur.fetchone()


async def find(conn: psycopg.AsyncConnection, group: str, *, phone: str = "", qr: str = "",
               plate: str = "", openid: str = "") -> str | None:
    """The member number of a phone or WeChat openid (in the company ``group``), a QR token or a bound plate; None:
    nobody."""
    if plate:
        return await vehicles.member_of_plate(conn, plate)
    column, value, extra = (("phone", phone, " AND company_group = %s") if phone
                            else ("wechat_openid", openid, " AND company_group = %s") if openid
                            else ("qr_token", qr, ""))
    cur = await conn.execute(f"SELECT member_no FROM business.members WHERE {column} = %s{extra} "  # noqa: S608
                             "AND status <> 'erased'", (value, group) if extra else (value,))
    row = await cur.fetchone()
    return None if row is None else str(row[0])


async def summary(conn: psycopg.AsyncConnection, member_no: str) -> dict[str, Any] | None:
    """What a POS needs of a member (the lookup's answer): number, name, phone, level with its discount, points,
    cards and plates."""
    found = await profile(conn, member_no)
    if found is None or found["status"] == "erased":
        return None
    cards = await sections.cards(conn, member_no)
    return {"member_no": member_no, "name": found["name"], "phone": found["phone"], "level": found["level"],
            "level_name": found["level_name"], "discount_pct": found["discount_pct"],
            "points_multiplier": found["points_multiplier"], "status": found["status"],
            "points_balance": await sections.points_balance(conn, member_no),
            "cards": [{k: c.get(k) for k in ("card_no", "kind", "status", "balance_fen")} for c in cards],
            "plates": list(await vehicles.plates_of(conn, member_no))}


async def tags_of(conn: psycopg.AsyncConnection, member_no: str) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("""SELECT t.id, t.name, t.kind, k.at FROM business.member_tag_links k
                             JOIN business.member_tags t ON t.id = k.tag_id WHERE k.member_no = %s ORDER BY t.name""",
                          (member_no,))
        return await cur.fetchall()


async def growth_history(conn: psycopg.AsyncConnection, member_no: str, limit: int = 50) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("""SELECT key, station, reference, amount_fen, growth, at FROM business.member_growth
                             WHERE member_no = %s ORDER BY at DESC, key LIMIT %s""", (member_no, limit))
        return await cur.fetchall()


async def level_changes(conn: psycopg.AsyncConnection, member_no: str, limit: int = 20) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("""SELECT from_level, to_level, reason, at FROM business.member_level_changes
                             WHERE member_no = %s ORDER BY id DESC LIMIT %s""", (member_no, limit))
        return await cur.fetchall()


async def levels(conn: psycopg.AsyncConnection) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("""SELECT l.code, l.name, l.rank, l.growth_min, l.discount_pct,
                                    l.points_multiplier::float8 AS points_multiplier, l.birthday_privilege,
                                    l.updated_at, (SELECT count(*) FROM business.members m
                                                   WHERE m.level = l.code AND m.status <> 'erased') AS members
                             FROM business.member_levels l ORDER BY l.rank""")
        return await cur.fetchall()


async def tags(conn: psycopg.AsyncConnection) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("""SELECT t.id, t.name, t.kind, t.rule, t.description, t.created_at,
                                    (SELECT count(*) FROM business.member_tag_links k WHERE k.tag_id = t.id) AS members
                             FROM business.member_tags t ORDER BY t.id""")
        return await cur.fetchall()


async def listed_member(conn: psycopg.AsyncConnection, member_no: str) -> ListedMember | None:
    """The member as the stations' member list carries it (None: erased, not listed)."""
    found = await profile(conn, member_no)
    if found is None or found["status"] == "erased":
        return None
    masked = shown({"name": found["name"] or ""}, Disclosure())["name"]
    method, card_no = await drive_through.setting(conn, member_no)     # 无感支付 (docs/vision.md)
    return ListedMember(member_no=member_no, name_masked=masked, phone_masked=mask_phone(found["phone"]),
                        phone_digest=phone_digest(found["phone"], found["company_group"]), level=found["level"],
                        level_name=found["level_name"], discount_pct=found["discount_pct"],
                        plates=await vehicles.plates_of(conn, member_no), qr_token=found["qr_token"],
                        status="frozen" if found["status"] == "frozen" else "active",
                        drive_through=method, drive_through_card_no=card_no,
                        drive_through_confirm=await drive_through.confirms(conn, member_no))   # 每次确认


async def personal_data(conn: psycopg.AsyncConnection, member_no: str) -> dict[str, list[dict[str, Any]]]:
    """PIPL: everything kept about the member, section by section (profile, vehicles, tags, growth, level
    changes, orders), unmasked: for the member's own request only."""
    found = await profile(conn, member_no)
    if found is None:
        return {}
    keep = ("member_no", "phone", "name", "gender", "birthday", "source", "station", "id_number_masked", "real_name",
            "wechat_openid", "wechat_unionid", "level_name", "growth", "lifecycle", "status", "registered_at",
            "erased_at")
    return {"profile": [{k: found[k] for k in keep}],
            "vehicles": [{k: v[k] for k in ("plate", "model", "colour", "created_at")}
                         for v in await vehicles.vehicles_of(conn, member_no)],
            "tags": [{"name": t["name"], "at": t["at"]} for t in await tags_of(conn, member_no)],
            "growth": await growth_history(conn, member_no, limit=100_000),
            "level_changes": await level_changes(conn, member_no, limit=100_000),
            "orders": [{k: o[k] for k in ("station", "order_no", "status", "grade", "volume_l", "amount_fen",
                                          "paid_fen", "plate", "created_at")}
                       for o in await station_orders.of_member(conn, member_no, None, limit=100_000)]}


# --- Excel export of the list (business_services/exports/kinds.py) ----------------------------------------------

COLUMNS = (Column("member_no", "会员号", 14), Column("name", "姓名", 10), Column("phone", "手机号", 14),
           Column("gender", "性别", 6), Column("level_name", "等级", 10), Column("growth", "成长值", 10),
           Column("lifecycle", "生命周期", 10), Column("plates", "车牌", 20), Column("tags", "标签", 24),
           Column("source", "注册渠道", 10), Column("station", "注册站点", 10), Column("registered_at", "注册时间", 20))
_GENDERS = {"male": "男", "female": "女", "unknown": "未知"}
_SOURCES = {"pos": "收银台", "back_office": "管理后台", "wechat": "微信"}


def export_row(row: Mapping[str, Any], disclosure: Disclosure) -> dict[str, Any]:
    out = shown(row, disclosure)
    return out | {"gender": _GENDERS.get(out["gender"], out["gender"]), "source": _SOURCES.get(out["source"], ""),
                  "lifecycle": LIFECYCLE_NAMES.get(Lifecycle(out["lifecycle"]), out["lifecycle"]),
                  "plates": "、".join(out["plates"]), "tags": "、".join(out["tags"])}


async def count(conn: psycopg.AsyncConnection, f: MemberFilter, scope: frozenset[str] | None) -> int:
    query, params = _query(f, scope)
    cur = await conn.execute(f"SELECT count(*) FROM ({query}) q", params)  # noqa: S608
    row = await cur.fetchone()
    return int(row[0]) if row else 0


async def rows(conn: psycopg.AsyncConnection, f: MemberFilter, scope: frozenset[str] | None,
               pii: bool) -> AsyncIterator[Mapping[str, Any]]:
    """Every matching member newest first, masked unless ``pii`` (for the Excel export)."""
    query, params = _query(f, scope)
    disclosure = Disclosure(pii=pii, card_numbers=pii)
    async with conn.cursor(name="member_rows", row_factory=dict_row) as cur:
        cur.itersize = 2000
        await cur.execute(f"{query} ORDER BY m.registered_at DESC, m.member_no DESC", params)
        async for row in cur:
            yield export_row(row, disclosure)



async def active_member_of_phone(conn: psycopg.AsyncConnection, group: str, phone: str) -> str | None:
    """The member number of the company's active member with this phone (the customer H5's login), or None."""
    cur = await conn.execute("SELECT member_no FROM business.members WHERE company_group = %s AND phone = %s "
                             "AND status = 'active'", (group, phone))
    row = await cur.fetchone()
    return None if row is None else str(row[0])
