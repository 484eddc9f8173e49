"""The company's price limits and the special-price rules, at head office (docs/prices.md "Limits" and
"Special prices"; the contract in docs/api.md "Prices").

Reading them needs ``price:read``; setting the limits ``price:policy`` with company scope (they bind every
station); adding and ending special prices ``price:rule`` for stations in the caller's scope (a rule for every
station needs company scope). Every change is audited; a station server answers 409 (prices are decided at head
office).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from business_services.prices import views
from business_services.prices.handlers import AddPriceRule, EndPriceRule, SetPricePolicy
from business_services.prices.model import NotFound, PriceError
from business_services.prices.repository import policy as read_policy
from business_services.prices.resolution import check_rule
from business_services.unit_of_work import UnitOfWork
from control_api.deps import Db
from control_api.idempotency import IdempotencyKey, once
from control_api.routes.prices import (
    Grade,
    Limits,
    Reader,
    RequestBody,
    at_head_office,
    check_stations,
    in_scope,
    unprocessable,
)
from control_api.security import Principal, require
from telemetry.contracts.identifiers import Code

router = APIRouter(tags=["prices"])
PolicyHolder = Annotated[Principal, Depends(require("price:policy"))]
RuleKeeper = Annotated[Principal, Depends(require("price:rule"))]
RuleId = Annotated[int, Path(ge=1, le=2**63 - 1, description="特殊价格规则编号 (a price rule's id)")]


class PolicyBody(RequestBody):
    step_fen: Annotated[int, Field(ge=1, le=10_000)]
    step_pct: Annotated[Decimal, Field(ge=Decimal("0.01"), le=100, max_digits=5, decimal_places=2)]
    day_fen: Annotated[int, Field(ge=1, le=10_000)]


class RuleBody(RequestBody):
    kind: Literal["member_level", "fleet_agreement", "time_of_use", "tier"]
    stations: Annotated[list[Code], Field(min_length=1, max_length=500)] | None = None
    grade: Grade | None = None
    params: dict[str, Any]
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    note: Annotated[str, Field(max_length=200)] = ""


class RulePublic(BaseModel):
    id: int
    kind: str
    stations: list[str] | None
    grade: str | None
    params: dict[str, Any]
    valid_from: datetime
    valid_to: datetime | None
    note: str
    created_by: str
    created_at: datetime
    ended_by: str | None



# --- the company's limits and special prices -----------------------------------------------------------------

@router.get("/api/v1/price-policy", response_model=Limits)
async def get_policy(request: Request, who: Reader, db: Db) -> Limits:
    """The caller's company's limits (defaults until someone sets them); anyone who reads prices sees them."""
    async with db.connection() as conn:
        p = await read_policy(conn, request.app.state.group)
    return Limits(step_fen=p.step_fen, step_pct=float(p.step_pct), day_fen=p.day_fen)


@router.put("/api/v1/price-policy", response_model=Limits)
async def put_policy(body: PolicyBody, request: Request, who: PolicyHolder, db: Db) -> Limits | JSONResponse:
    """Set the company's limits (company scope: they bind every station). Audited."""
    at_head_office(request)
    if who.stations is not None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "调价限额适用于全公司，需要全公司范围 "
                                                       "(the limits bind every station: they need company scope)")
    try:
        async with db.connection() as conn, UnitOfWork(conn, who.actor) as uow:
            answer = await request.app.state.bus.handle(
                SetPricePolicy(request.app.state.group, body.step_fen, body.step_pct, body.day_fen), uow)
    except PriceError as exc:
        return unprocessable(exc)
    return Limits(**answer)


@router.get("/api/v1/price-rules", response_model=list[RulePublic])
async def list_rules(request: Request, who: Reader, db: Db,
                     active: Annotated[bool, Query(description="只看当前有效的 (only those valid now)")] = False,
                     ) -> list[RulePublic]:
    """Special prices (member level, fleet agreement, time of use, tier), newest first."""
    async with db.connection() as conn:
        rows = await views.rules(conn, who.stations, request.app.state.group,
                                 active_at=datetime.now(UTC) if active else None)
    return [RulePublic(**r) for r in rows]


def _checked_rule(body: RuleBody, valid_from: datetime) -> None:
    """What a rule's body must be, checked before anything is written (422 naming the field)."""
    for name, value in (("valid_from", valid_from), ("valid_to", body.valid_to)):
        if value is not None and value.tzinfo is None:
            raise PriceError(name, "时间须带时区 (a time needs a time zone, e.g. +08:00)")
    check_rule(body.kind, body.params)
    if body.valid_to is not None and body.valid_to <= valid_from:
        raise PriceError("valid_to", "结束时间须晚于开始时间 (valid_to is after valid_from)")


@router.post("/api/v1/price-rules", response_model=RulePublic)
async def add_rule(body: RuleBody, request: Request, who: RuleKeeper, db: Db, key: IdempotencyKey) -> Response:
    """Add a special price (docs/prices.md "Special prices" for each kind's params) for stations in the caller's
    scope; a rule for every station (``stations: null``) needs company scope. Audited. A resend with the same
    Idempotency-Key gets the first rule back (``Idempotent-Replayed: true``), never a second one."""
    at_head_office(request)
    if body.stations is None and who.stations is not None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "全公司适用的规则需要全公司范围，请选择站点 (a rule for "
                                                       "every station needs company scope; choose stations)")
    check_stations(who, body.stations or [])
    valid_from = body.valid_from or datetime.now(UTC)
    try:
        _checked_rule(body, valid_from)
    except PriceError as exc:
        return unprocessable(exc)

    async def work() -> RulePublic:
        try:
            async with db.connection() as conn:
                async with UnitOfWork(conn, who.actor) as uow:
                    rule_id = await request.app.state.bus.handle(AddPriceRule(
                        request.app.state.group, body.kind, None if body.stations is None else tuple(body.stations),
                        body.grade, body.params, valid_from, body.valid_to, body.note), uow)
                found = await views.rule(conn, request.app.state.group, rule_id)
        except PriceError as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"{exc.message} ({exc.field})") from exc
        if found is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"没有特殊价格规则 {rule_id} (no price rule {rule_id})")
        return RulePublic(**found)
    return await once(request, db, who, key, work)


@router.post("/api/v1/price-rules/{rule_id}/end", response_model=RulePublic)
async def end_rule(rule_id: RuleId, request: Request, who: RuleKeeper, db: Db) -> RulePublic:
    """End a special price now (kept in the history with its end). Audited; ending it again changes nothing."""
    at_head_office(request)
    async with db.connection() as conn:
        found = await views.rule(conn, request.app.state.group, rule_id)
        if found is None or (who.stations is not None and (found["stations"] is None
                                                           or not in_scope(who, found["stations"]))):
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"没有特殊价格规则 {rule_id} (no price rule {rule_id} "
                                                           "in your scope)")
        try:
            async with UnitOfWork(conn, who.actor) as uow:
                await request.app.state.bus.handle(EndPriceRule(request.app.state.group, rule_id), uow)
        except NotFound as exc:
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
        found = await views.rule(conn, request.app.state.group, rule_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"没有特殊价格规则 {rule_id} (no price rule {rule_id})")
    return RulePublic(**found)
