"""Who speaks for an enterprise on the open API (docs/fleet-open-api.md), and what they read there.

A partner's system holds an API key (``business.access_api_keys``, permission ``fleet:portal``) bound to one
enterprise with its scopes; an enterprise's own users (role ``fleet_client``) are bound to one enterprise too
and hold every scope. A caller bound to an enterprise sees that enterprise only: anything of another is not
found. Plates and card numbers are shown in full only to a caller with the ``pii`` scope (a key) or
``pii:read`` (a user); the reads here give them whole and the route masks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from business_services.access import repository as access
from business_services.access.model import new_api_key
from business_services.audit.model import AuditEntry
from business_services.ledger import views as ledger
from business_services.ledger.model import card, fleet_gift, fleet_prepaid, fleet_receivable
from business_services.pages import After, Sort, keyset_page
from business_services.unit_of_work import UnitOfWork

#: what a key may read (a portal user holds them all)
SCOPES: dict[str, str] = {
    "vehicles": "车辆与车队卡", "fuellings": "加油记录与轨迹", "balances": "余额与授信", "statements": "对账单",
    "pii": "完整车牌与卡号",
}
PORTAL_PERMISSION = "fleet:portal"
PORTAL_ROLE = "fleet_client"          # an enterprise's own users (business_services/access/model.py)


class NotBound(LookupError):
    """The caller speaks for no enterprise (a key or user not bound to one)."""


class UnknownEnterprise(LookupError):
    pass


@dataclass(frozen=True, slots=True)
class Partner:
    """The enterprise a caller speaks for, and what it may read."""

    enterprise: str
    scopes: frozenset[str]
    per_minute: int
    caller: str             # apikey:<prefix> or user:<id>: whose rate limit


def check_scopes(scopes: list[str]) -> list[str]:
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise ValueError(f"未知或缺少授权范围 {unknown}，可选 {sorted(SCOPES)} "
                         f"(unknown or no scopes {unknown}; choose from {sorted(SCOPES)})")
    return sorted(set(scopes))


async def partner_of_key(conn: psycopg.AsyncConnection, prefix: str) -> Partner:
    row = await (await conn.execute("SELECT enterprise, scopes, per_minute FROM business.fleet_api_keys "
                                    "WHERE prefix = %s", (prefix,))).fetchone()
    if row is None:
        raise NotBound(prefix)
    return Partner(row[0], frozenset(row[1]), int(row[2]), f"apikey:{prefix}")


async def partner_of_user(conn: psycopg.AsyncConnection, user_id: int, per_minute: int) -> Partner:
    row = await (await conn.execute("SELECT enterprise FROM business.fleet_portal_users WHERE user_id = %s",
                                    (user_id,))).fetchone()
    if row is None:
        raise NotBound(str(user_id))
    return Partner(row[0], frozenset(SCOPES), per_minute, f"user:{user_id}")


async def maintaining_station(conn: psycopg.AsyncConnection, enterprise: str) -> str:
    """The station whose users manage ``enterprise``; UnknownEnterprise when there is none of that code."""
    row = await (await conn.execute("SELECT maintaining_station FROM business.fleet_enterprises WHERE code = %s",
                                    (enterprise,))).fetchone()
    if row is None:
        raise UnknownEnterprise(f"企业 {enterprise} 不存在 (no enterprise {enterprise})")
    return str(row[0])


# ---- managing the bindings (fleet:write) -------------------------------------------------------------------


async def create_key(uow: UnitOfWork, enterprise: str, scopes: list[str], per_minute: int,
                     note: str) -> dict[str, Any]:
    """A new API key bound to ``enterprise``; the key itself is in this answer only."""
    scopes = check_scopes(scopes)
    station = await maintaining_station(uow.conn, enterprise)
    key = new_api_key()
    key_id = await access.insert_api_key(uow.conn, key.prefix, key.digest, f"{enterprise} {note}".strip(),
                                         [PORTAL_PERMISSION], [station], uow.actor.name)
    await uow.conn.execute("INSERT INTO business.fleet_api_keys (key_id, prefix, enterprise, scopes, per_minute, "
                           "created_by) VALUES (%s, %s, %s, %s, %s, %s)",
                           (key_id, key.prefix, enterprise, scopes, per_minute, uow.actor.name))
    await uow.audit(AuditEntry("fleet.apikey.create", f"apikey:{key.prefix}",
                               after={"enterprise": enterprise, "scopes": scopes, "per_minute": per_minute}))
    return {"id": key_id, "prefix": key.prefix, "key": key.key, "scopes": scopes, "per_minute": per_minute}


async def keys(conn: psycopg.AsyncConnection, enterprise: str) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("""SELECT b.key_id AS id, b.prefix, b.scopes, b.per_minute, b.created_by, b.created_at,
                                    k.revoked_at
                             FROM business.fleet_api_keys b JOIN business.access_api_keys k ON k.id = b.key_id
                             WHERE b.enterprise = %s ORDER BY b.key_id DESC""", (enterprise,))
        return await cur.fetchall()


async def revoke_key(uow: UnitOfWork, enterprise: str, key_id: int, at: datetime) -> None:
    row = await (await uow.conn.execute(
        """UPDATE business.access_api_keys k SET revoked_at = %s FROM business.fleet_api_keys b
           WHERE b.key_id = k.id AND k.id = %s AND b.enterprise = %s AND k.revoked_at IS NULL RETURNING k.prefix""",
        (at, key_id, enterprise))).fetchone()
    if row is None:
        raise LookupError(f"企业 {enterprise} 没有未吊销的密钥 {key_id} (no such live key of this enterprise)")
    await uow.audit(AuditEntry("fleet.apikey.revoke", f"apikey:{row[0]}", before={"enterprise": enterprise}))


async def bind_user(uow: UnitOfWork, enterprise: str, username: str) -> int:
    """Bind an enterprise's own user (role fleet_client) to it; rebinding moves them. Their id."""
    await maintaining_station(uow.conn, enterprise)
    user = await access.user_by_name(uow.conn, username)
    if user is None:
        raise LookupError(f"用户 {username} 不存在 (no user {username})")
    if await (await uow.conn.execute("SELECT 1 FROM business.access_user_roles WHERE user_id = %s AND role = %s",
                                     (user.id, PORTAL_ROLE))).fetchone() is None:
        raise ValueError(f"只能绑定企业车队用户：请先给 {username} 角色 {PORTAL_ROLE} "
                         f"(only users with the role {PORTAL_ROLE} are bound to an enterprise)")
    before = await (await uow.conn.execute("SELECT enterprise FROM business.fleet_portal_users WHERE user_id = %s",
                                           (user.id,))).fetchone()
    await uow.conn.execute("""INSERT INTO business.fleet_portal_users (user_id, enterprise, created_by)
                              VALUES (%s, %s, %s) ON CONFLICT (user_id) DO UPDATE SET enterprise = EXCLUDED.enterprise,
                              created_by = EXCLUDED.created_by, created_at = now()""",
                           (user.id, enterprise, uow.actor.name))
    await uow.audit(AuditEntry("fleet.portal.bind", f"user:{user.id}",
                               before=None if before is None else {"enterprise": before[0]},
                               after={"enterprise": enterprise, "username": username}))
    return int(user.id)


async def portal_users(conn: psycopg.AsyncConnection, enterprise: str) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("""SELECT u.id, u.username, u.display_name, p.created_by, p.created_at
                             FROM business.fleet_portal_users p JOIN business.access_users u ON u.id = p.user_id
                             WHERE p.enterprise = %s ORDER BY u.username""", (enterprise,))
        return await cur.fetchall()


# ---- what a partner reads ----------------------------------------------------------------------------------


async def enterprise(conn: psycopg.AsyncConnection, code: str) -> dict[str, Any]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("""SELECT code, name, status, settlement, credit_limit_fen, credit_days, statement_day
                             FROM business.fleet_enterprises WHERE code = %s""", (code,))
        row = await cur.fetchone()
    if row is None:
        raise UnknownEnterprise(code)
    return row


async def balances(conn: psycopg.AsyncConnection, code: str) -> dict[str, Any]:
    """The enterprise's money as the ledger holds it, read in one snapshot: prepaid, gift, debt (挂账), the credit
    still open, and each card's own balance."""
    async with ledger.one_snapshot(conn):
        limit = (await enterprise(conn, code))["credit_limit_fen"]
        debt = await ledger.balance(conn, fleet_receivable(code).code)
        own = [{"card_id": c["card_id"], "card_no": c["card_no"], "pays_from": c["pays_from"],
                "balance_fen": await ledger.balance(conn, card(c["card_no"]).code)}
               for c in await cards(conn, code) if c["pays_from"] == "card"]
        return {"enterprise": code, "prepaid_fen": await ledger.balance(conn, fleet_prepaid(code).code),
                "gift_fen": await ledger.balance(conn, fleet_gift(code).code), "debt_fen": debt,
                "credit_limit_fen": limit, "credit_remaining_fen": max(0, limit - debt), "cards": own}


async def cards(conn: psycopg.AsyncConnection, code: str) -> list[dict[str, Any]]:
    """The enterprise's cards and their limits."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("""SELECT id AS card_id, card_no, holder, plate, driver, status, pays_from, grades,
                                    stations, hours_from, hours_to, per_fill_fen, litres_per_fill, daily_fen,
                                    weekly_fen, monthly_fen, fills_per_day, fills_per_week, fills_per_month
                             FROM business.fleet_cards
                             WHERE enterprise = %s ORDER BY id""", (code,))
        return await cur.fetchall()


async def vehicles(conn: psycopg.AsyncConnection, code: str) -> list[dict[str, Any]]:
    """The enterprise's vehicles: each plate with a card of it, named by its vehicle card's id (a masked plate
    cannot name it), with its latest card's status and its model and colour where the vehicle is registered."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("""SELECT DISTINCT ON (c.plate) c.id AS vehicle_id, c.plate, c.card_no, c.status,
                                    coalesce(v.model, '') AS model, coalesce(v.colour, '') AS colour
                             FROM business.fleet_cards c LEFT JOIN business.vehicles v ON v.plate = c.plate
                             WHERE c.enterprise = %s AND c.plate IS NOT NULL
                             ORDER BY c.plate, c.status = 'closed', c.id DESC""", (code,))
        return sorted(await cur.fetchall(), key=lambda v: v["vehicle_id"])


async def vehicle(conn: psycopg.AsyncConnection, code: str, vehicle_id: int) -> dict[str, Any] | None:
    """One vehicle of the enterprise by its id; None for any other (another enterprise's is not found)."""
    return next((v for v in await vehicles(conn, code) if v["vehicle_id"] == vehicle_id), None)


_FUELLING = """SELECT p.seq, p.station, p.payment_no, p.order_nos, p.card_no, c.id AS card_id, p.plate, p.grade,
                      p.litres_ml, p.amount_fen, p.pays_from, p.offline, p.paid_at
               FROM business.fleet_payments p JOIN business.fleet_cards c ON c.card_no = p.card_no"""


#: fuellings newest first, by when head office recorded them
NEWEST_FIRST = Sort("seq", int, descending=True, tiebreak="seq")


async def fuellings(conn: psycopg.AsyncConnection, code: str, *, since: datetime | None, until: datetime | None,
                    plate: str | None, limit: int, after: After | None
                    ) -> tuple[list[dict[str, Any]], int, After | None]:
    """A page of the enterprise's fleet sales (``NEWEST_FIRST``), paid in [since, until), of one plate or all."""
    query = _FUELLING + """
        WHERE p.enterprise = %(code)s
          AND (%(since)s::timestamptz IS NULL OR p.paid_at >= %(since)s)
          AND (%(until)s::timestamptz IS NULL OR p.paid_at < %(until)s)
          AND (%(plate)s::text IS NULL OR p.plate = %(plate)s)"""
    return await keyset_page(conn, query, {"code": code, "since": since, "until": until, "plate": plate},
                             NEWEST_FIRST, limit, after)


async def trajectory(conn: psycopg.AsyncConnection, code: str, plate: str, *, since: datetime | None,
                     until: datetime | None, limit: int) -> list[dict[str, Any]]:
    """Where a vehicle fuelled, in time order: each stop's station, time, litres and amount."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("""SELECT p.station, coalesce(s.name, p.station) AS station_name, p.paid_at,
                                    p.litres_ml, p.amount_fen, p.grade
                             FROM business.fleet_payments p LEFT JOIN business.stations s ON s.code = p.station
                             WHERE p.enterprise = %(code)s AND p.plate = %(plate)s
                               AND (%(since)s::timestamptz IS NULL OR p.paid_at >= %(since)s)
                               AND (%(until)s::timestamptz IS NULL OR p.paid_at < %(until)s)
                             ORDER BY p.paid_at, p.seq LIMIT %(limit)s""",
                          {"code": code, "plate": plate, "since": since, "until": until, "limit": limit})
        return await cur.fetchall()
