"""The fleets open API (docs/fleet-open-api.md) and the management of who may use it.

``/api/v1/open/fleet/…``: what a partner's system (``X-API-Key`` bound to an enterprise) or the enterprise's own
user (role ``fleet_client``, bound the same way) reads of its enterprise: vehicles, cards, balances, fuellings,
a vehicle's trajectory and its statements (对账单). Permission ``fleet:portal``; the caller's binding names the
enterprise, so nothing of another enterprise is ever found (404); each key's scopes narrow what it reads (403); a
token bucket per caller limits the rate (429 with ``Retry-After``; control_api/rate_limit.py). Plates and card
numbers are masked unless the caller holds the ``pii`` scope (a key) or ``pii:read`` (a user).

``/api/v1/fleet-enterprises/{enterprise}/partner-keys|webhooks|portal-users``: a fleet:write user of the enterprise's
maintaining station issues and revokes its keys, subscribes its webhooks (business_services/fleets/webhooks.py)
and binds its portal users; each change is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from starlette.requests import HTTPConnection

from business_services import partner_urls
from business_services.cards.model import mask_card_no, mask_plate
from business_services.fleets import partners, statements, webhooks
from business_services.fleets.partners import NotBound, Partner, UnknownEnterprise
from business_services.fleets.settlement_model import STATEMENT_NO
from business_services.unit_of_work import UnitOfWork
from control_api import rate_limit
from control_api.database import Database
from control_api.deps import Db, RowId
from control_api.pagination import Cursor, Limit, after, page
from control_api.security import Principal, require

router = APIRouter(prefix="/api/v1", tags=["fleet open API"])
NO_NUL = r"^[^\x00]*$"
#: a portal user's rate (a key has its own, set when it is issued)
USER_PER_MINUTE = 120
_portal = require(partners.PORTAL_PERMISSION)
Writer = Annotated[Principal, Depends(require("fleet:write"))]
EnterpriseCode = Annotated[str, Path(pattern=r"^E[0-9]{6}$", description="企业编码 (E + 6 digits)")]
Since = Annotated[AwareDatetime | None, Query(description="起 (inclusive), ISO 8601 with zone: 2026-12-01T00:00+08:00")]
Until = Annotated[AwareDatetime | None, Query(description="止 (exclusive), ISO 8601 with zone")]


@dataclass(frozen=True, slots=True)
class Caller:
    who: Principal
    partner: Partner

    def needs(self, scope: str) -> None:
        if scope not in self.partner.scopes:
            raise HTTPException(403, f"此密钥没有 {scope} 授权，请联系油站为密钥增加该范围 "
                                     f"(this key lacks the scope {scope}; ask the station to issue one with it)")

    @property
    def sees_pii(self) -> bool:
        return "pii" in self.partner.scopes if self.who.user_id is None else self.who.may("pii:read")

    def plate(self, plate: str | None) -> str | None:
        return plate if plate is None or self.sees_pii else mask_plate(plate)

    def masked(self, row: dict[str, Any]) -> dict[str, Any]:
        """``row`` with its card number and plate as this caller may see them."""
        if self.sees_pii:
            return row
        return row | {"card_no": mask_card_no(row["card_no"])} | (
            {"plate": self.plate(row["plate"])} if "plate" in row else {})


async def _caller(connection: HTTPConnection) -> Caller:
    """The caller, the enterprise it speaks for, and a token of its rate."""
    who = await _portal(connection)
    async with connection.app.state.database.connection() as conn:
        try:
            if who.username.startswith("apikey:"):
                partner = await partners.partner_of_key(conn, who.username.removeprefix("apikey:"))
            elif who.user_id is not None:
                partner = await partners.partner_of_user(conn, who.user_id, USER_PER_MINUTE)
            else:
                raise NotBound(who.username)
        except NotBound:
            raise HTTPException(403, "此账号或密钥未绑定企业，请联系维护油站绑定 "
                                     "(this account or key is bound to no enterprise; ask its station to bind it)"
                                ) from None
        await rate_limit.check(conn, partner.caller, partner.per_minute)
    return Caller(who, partner)


_caller.permission = partners.PORTAL_PERMISSION  # type: ignore[attr-defined]   # read by the role-matrix test
Open = Annotated[Caller, Depends(_caller)]


def _example(value: Any) -> dict[int | str, dict[str, Any]]:
    return {200: {"content": {"application/json": {"example": value}}}}


_CARD = {"card_id": 12, "card_no": "9100********0031", "holder": "vehicle", "plate": "粤B****5", "driver": "",
         "status": "active", "pays_from": "credit", "grades": [92], "stations": [], "hours_from": None,
         "hours_to": None, "per_fill_fen": None, "litres_per_fill": None, "daily_fen": 30000, "weekly_fen": None,
         "monthly_fen": None, "fills_per_day": 3, "fills_per_week": None, "fills_per_month": None}
_FUELLING = {"seq": 1042, "station": "demo-01", "payment_no": "demo-01-20261204-P00017",
             "order_nos": ["demo-01-20261204-O00033"], "card_id": 12, "card_no": "9100********0031",
             "plate": "粤B****5", "grade": 0, "litres_ml": 152300, "amount_fen": 110000, "pays_from": "credit",
             "offline": False, "paid_at": "2026-12-04T03:12:09Z"}


# ---- the open API ------------------------------------------------------------------------------------------


@router.get("/open/fleet/enterprise", responses=_example(
    {"code": "E000123", "name": "顺达物流", "status": "normal", "settlement": "credit", "credit_limit_fen": 5000000,
     "credit_days": 30, "statement_day": 1, "scopes": ["balances", "fuellings", "vehicles"]}))
async def my_enterprise(caller: Open, db: Db) -> dict[str, Any]:
    """The enterprise this key or user speaks for, and the key's scopes."""
    async with db.connection() as conn:
        found = await partners.enterprise(conn, caller.partner.enterprise)
    return found | {"scopes": sorted(caller.partner.scopes)}


@router.get("/open/fleet/vehicles", responses=_example(
    {"items": [{"vehicle_id": 12, "plate": "粤B****5", "card_no": "9100********0031", "status": "active",
                "model": "解放J6", "colour": "白"}], "next_cursor": None, "total": 1}))
async def open_vehicles(caller: Open, db: Db) -> dict[str, Any]:
    """The enterprise's vehicles (each plate with a vehicle card), named by ``vehicle_id``."""
    caller.needs("vehicles")
    async with db.connection() as conn:
        rows = await partners.vehicles(conn, caller.partner.enterprise)
    return {"items": [caller.masked(v) for v in rows], "next_cursor": None, "total": len(rows)}


async def _own_vehicle(caller: Caller, db: Database, vehicle_id: int) -> dict[str, Any]:
    async with db.connection() as conn:
        found = await partners.vehicle(conn, caller.partner.enterprise, vehicle_id)
    if found is None:
        raise HTTPException(404, f"本企业没有车辆 {vehicle_id} (your enterprise has no vehicle {vehicle_id})")
    return found


@router.get("/open/fleet/vehicles/{vehicle_id}", responses=_example(
    {"vehicle_id": 12, "plate": "粤B****5", "card_no": "9100********0031", "status": "active", "model": "解放J6",
     "colour": "白"}))
async def open_vehicle(vehicle_id: RowId, caller: Open, db: Db) -> dict[str, Any]:
    """One vehicle of the enterprise; another enterprise's is not found (404)."""
    caller.needs("vehicles")
    return caller.masked(await _own_vehicle(caller, db, vehicle_id))


@router.get("/open/fleet/vehicles/{vehicle_id}/trajectory", responses=_example(
    {"vehicle_id": 12, "plate": "粤B****5", "stops": [
        {"station": "demo-01", "station_name": "长佳加油站", "paid_at": "2026-12-03T01:02:03Z", "litres_ml": 80000,
         "amount_fen": 60000, "grade": 0},
        {"station": "demo-02", "station_name": "滨江加油站", "paid_at": "2026-12-04T03:12:09Z", "litres_ml": 152300,
         "amount_fen": 110000, "grade": 0}]}))
async def open_trajectory(vehicle_id: RowId, caller: Open, db: Db, since: Since = None, until: Until = None,
                          limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> dict[str, Any]:
    """Where the vehicle fuelled, in time order (the first ``limit`` stops of the range)."""
    caller.needs("fuellings")
    found = await _own_vehicle(caller, db, vehicle_id)
    async with db.connection() as conn:
        stops = await partners.trajectory(conn, caller.partner.enterprise, found["plate"], since=since,
                                          until=until, limit=limit)
    return {"vehicle_id": vehicle_id, "plate": caller.plate(found["plate"]), "stops": stops}


@router.get("/open/fleet/cards", responses=_example({"items": [_CARD], "next_cursor": None, "total": 1}))
async def open_cards(caller: Open, db: Db) -> dict[str, Any]:
    """The enterprise's cards and their limits (fen; NULL: no such limit)."""
    caller.needs("vehicles")
    async with db.connection() as conn:
        rows = await partners.cards(conn, caller.partner.enterprise)
    return {"items": [caller.masked(r) for r in rows], "next_cursor": None, "total": len(rows)}


@router.get("/open/fleet/balances", responses=_example(
    {"enterprise": "E000123", "prepaid_fen": 200000, "gift_fen": 5000, "debt_fen": 1250000,
     "credit_limit_fen": 5000000, "credit_remaining_fen": 3750000,
     "cards": [{"card_id": 13, "card_no": "9100********0049", "pays_from": "card", "balance_fen": 30000}]}))
async def open_balances(caller: Open, db: Db) -> dict[str, Any]:
    """Prepaid, gift, debt (挂账) and the credit left, from the ledger; each card's own balance."""
    caller.needs("balances")
    async with db.connection() as conn:
        found = await partners.balances(conn, caller.partner.enterprise)
    return found | {"cards": [caller.masked(c) for c in found["cards"]]}


@router.get("/open/fleet/fuellings", responses=_example(
    {"items": [_FUELLING], "next_cursor": "WyItc2VxIiwgMTA0MiwgMTA0Ml0=", "total": 57}))
async def open_fuellings(caller: Open, db: Db, since: Since = None, until: Until = None,
                         vehicle_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
                         cursor: Cursor = "", limit: Limit = 50) -> dict[str, Any]:
    """The enterprise's fuellings paid in [since, until), newest first; ``vehicle_id``: one vehicle's. Follow
    ``next_cursor`` with the same filters until it is null."""
    caller.needs("fuellings")
    plate = None if vehicle_id is None else (await _own_vehicle(caller, db, vehicle_id))["plate"]
    start = after(cursor, partners.NEWEST_FIRST)
    async with db.connection() as conn:
        rows, total, last = await partners.fuellings(conn, caller.partner.enterprise, since=since, until=until,
                                                     plate=plate, limit=limit, after=start)
    return page([caller.masked(r) for r in rows], total, partners.NEWEST_FIRST, last)


@router.get("/open/fleet/statements", responses=_example(
    {"items": [{"statement_no": "FS000123-20261201", "enterprise": "E000123", "period_to": "2026-12-01",
                "total_fen": 1250000, "paid_fen": 0, "due_on": "2026-12-31", "state": "issued"}],
     "next_cursor": None, "total": 1}))
async def open_statements(caller: Open, db: Db, cursor: Cursor = "", limit: Limit = 50) -> dict[str, Any]:
    """The enterprise's statements of its credit sales (挂账), newest first."""
    caller.needs("statements")
    async with db.connection() as conn:
        rows, total, last = await statements.statements_of(conn, caller.partner.enterprise, limit=limit,
                                                           after=after(cursor, statements.NEWEST))
    return page(rows, total, statements.NEWEST, last)


@router.get("/open/fleet/statements/{statement_no}")
async def open_statement(statement_no: Annotated[str, Path(pattern=f"^{STATEMENT_NO.pattern}$")],
                         caller: Open, db: Db) -> dict[str, Any]:
    """One statement with its sales, refunds, disputes and settlements (another enterprise's: 404)."""
    caller.needs("statements")
    async with db.connection() as conn:
        found = await statements.statement(conn, statement_no)
    if found is None or found["enterprise"] != caller.partner.enterprise:
        raise HTTPException(404, "没有这张对账单 (no such statement)")
    return found if caller.sees_pii else statements.masked(found)


# ---- managing keys, webhooks and portal users (fleet:write, the enterprise's maintaining station) ---------


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewKey(_Body):
    scopes: Annotated[list[str], Field(min_length=1, max_length=len(partners.SCOPES),
                                       examples=[["vehicles", "fuellings", "balances"]])]
    per_minute: Annotated[int, Field(ge=1, le=6000)] = 60
    note: Annotated[str, Field(max_length=40, pattern=NO_NUL)] = ""


class NewWebhook(_Body):
    url: Annotated[str, Field(pattern=r"^https?://[\x21-\x7e]{3,490}$",   # printable ASCII: percent-encode the rest
                              examples=["https://fleet.example.com/forecourt"])]


class PortalUser(_Body):
    username: Annotated[str, Field(min_length=1, max_length=64, pattern=NO_NUL)]


async def _managed(db: Database, who: Principal, enterprise: str) -> None:
    """404 for an unknown enterprise, 403 for one outside the caller's stations."""
    async with db.connection() as conn:
        try:
            station = await partners.maintaining_station(conn, enterprise)
        except UnknownEnterprise as missing:
            raise HTTPException(404, str(missing)) from None
    who.check_station(station)


@router.get("/fleet-enterprises/{enterprise}/partner-keys")
async def list_keys(enterprise: EnterpriseCode, who: Writer, db: Db) -> dict[str, Any]:
    await _managed(db, who, enterprise)
    async with db.connection() as conn:
        items = await partners.keys(conn, enterprise)
    return {"items": items, "next_cursor": None, "total": len(items), "scopes": partners.SCOPES}


@router.post("/fleet-enterprises/{enterprise}/partner-keys", status_code=201, responses={201: {"content": {
    "application/json": {"example": {"id": 7, "prefix": "1a2b3c4d", "key": "fck_1a2b3c4d_…", "scopes": ["vehicles"],
                                     "per_minute": 60}}}}})
async def create_key(enterprise: EnterpriseCode, body: NewKey, who: Writer, db: Db) -> dict[str, Any]:
    """A key bound to the enterprise; the key is in this answer only."""
    await _managed(db, who, enterprise)
    try:
        scopes = partners.check_scopes(body.scopes)
    except ValueError as bad:
        raise HTTPException(422, str(bad)) from None
    async with db.connection() as conn, UnitOfWork(conn, who.actor) as uow:
        return await partners.create_key(uow, enterprise, scopes, body.per_minute, body.note)


@router.delete("/fleet-enterprises/{enterprise}/partner-keys/{key_id}", status_code=204)
async def revoke_key(enterprise: EnterpriseCode, key_id: RowId, who: Writer, db: Db) -> None:
    await _managed(db, who, enterprise)
    try:
        async with db.connection() as conn, UnitOfWork(conn, who.actor) as uow:
            await partners.revoke_key(uow, enterprise, key_id, datetime.now(UTC))
    except LookupError as missing:
        raise HTTPException(404, str(missing)) from None


@router.get("/fleet-enterprises/{enterprise}/webhooks")
async def list_webhooks(enterprise: EnterpriseCode, who: Writer, db: Db) -> dict[str, Any]:
    await _managed(db, who, enterprise)
    async with db.connection() as conn:
        items = await webhooks.subscriptions(conn, enterprise)
    return {"items": items, "next_cursor": None, "total": len(items)}


@router.post("/fleet-enterprises/{enterprise}/webhooks", status_code=201)
async def create_webhook(enterprise: EnterpriseCode, body: NewWebhook, who: Writer, db: Db) -> dict[str, Any]:
    """A subscription to ``fuelling.completed``; its signing secret is in this answer only. A URL written with an
    address of our own networks is refused (422); a name is checked at each delivery (partner_urls)."""
    await _managed(db, who, enterprise)
    try:
        partner_urls.check_literal(body.url)
    except partner_urls.AddressRefused as refused:
        raise HTTPException(422, str(refused)) from None
    async with db.connection() as conn, UnitOfWork(conn, who.actor) as uow:
        return await webhooks.subscribe(uow, enterprise, body.url)


@router.delete("/fleet-enterprises/{enterprise}/webhooks/{webhook_id}", status_code=204)
async def delete_webhook(enterprise: EnterpriseCode, webhook_id: RowId, who: Writer, db: Db) -> None:
    await _managed(db, who, enterprise)
    try:
        async with db.connection() as conn, UnitOfWork(conn, who.actor) as uow:
            await webhooks.unsubscribe(uow, enterprise, webhook_id)
    except LookupError as missing:
        raise HTTPException(404, str(missing)) from None


@router.get("/fleet-enterprises/{enterprise}/webhooks/{webhook_id}/deliveries")
async def list_deliveries(enterprise: EnterpriseCode, webhook_id: RowId, who: Writer, db: Db) -> dict[str, Any]:
    await _managed(db, who, enterprise)
    async with db.connection() as conn:
        items = await webhooks.deliveries(conn, enterprise, webhook_id)
    return {"items": items, "next_cursor": None, "total": len(items)}


@router.get("/fleet-enterprises/{enterprise}/portal-users")
async def list_portal_users(enterprise: EnterpriseCode, who: Writer, db: Db) -> dict[str, Any]:
    await _managed(db, who, enterprise)
    async with db.connection() as conn:
        items = await partners.portal_users(conn, enterprise)
    return {"items": items, "next_cursor": None, "total": len(items)}


@router.post("/fleet-enterprises/{enterprise}/portal-users", status_code=201)
async def bind_portal_user(enterprise: EnterpriseCode, body: PortalUser, who: Writer, db: Db) -> dict[str, Any]:
    """Bind an enterprise's own user (role fleet_client) to it: they see this enterprise only."""
    await _managed(db, who, enterprise)
    try:
        async with db.connection() as conn, UnitOfWork(conn, who.actor) as uow:
            user_id = await partners.bind_user(uow, enterprise, body.username)
    except LookupError as missing:
        raise HTTPException(404, str(missing)) from None
    except ValueError as refused:
        raise HTTPException(422, str(refused)) from None
    return {"user_id": user_id, "username": body.username, "enterprise": enterprise}

