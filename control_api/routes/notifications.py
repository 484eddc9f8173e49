"""Alarm notifications (docs/notifications.md): the routing table, the contacts it names, and what was sent.

- ``GET  /api/v1/notification-routes`` (``alarm:read``), ``POST`` (``alarm:configure``, Idempotency-Key),
  ``GET|PUT|DELETE /api/v1/notification-routes/{route_id}``;
- ``GET  /api/v1/notification-contacts`` (``alarm:read``), ``POST`` (``alarm:configure``, Idempotency-Key),
  ``PUT /api/v1/notification-contacts/{contact_id}``;
- ``GET  /api/v1/notifications?alarm_id=`` (``alarm:read``): each message, its channel, recipient, status and
  attempts, and the alarm's steps (due, done, cancelled).

A caller scoped to stations sees the routes of its stations and the company-wide ones, and changes only routes
of its stations. Phones and openids are masked unless the caller holds ``pii:read``. Every change is audited.
Head office only: a station server answers 404 (notifications are sent from head office, docs/notifications.md).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from business_services.notifications import views
from business_services.notifications.handlers import DeleteRoute, NotFound, SaveContact, SaveRoute
from business_services.notifications.model import InvalidRoute, Route, Step
from business_services.unit_of_work import UnitOfWork
from control_api.deps import Db, head_office_only
from control_api.idempotency import IdempotencyKey, once
from control_api.pagination import Cursor, Limit, after, page
from control_api.security import Principal, require
from telemetry.contracts.events.alarms import Priority
from telemetry.contracts.identifiers import PLAIN_TEXT as PLAIN
from telemetry.contracts.identifiers import Code

# notifications are configured and sent at head office; a station server has none
router = APIRouter(tags=["notifications"], dependencies=[Depends(head_office_only(
    "报警通知在总部配置 (alarm notifications are configured at head office's API)"))])
Reader = Annotated[Principal, Depends(require("alarm:read"))]
Configurer = Annotated[Principal, Depends(require("alarm:configure"))]
RouteId = Annotated[int, Path(ge=1, le=2**63 - 1, description="通知路由编号 (a notification route's id)")]
ContactId = Annotated[int, Path(ge=1, le=2**63 - 1, description="联系人编号 (a contact's id)")]
Name = Annotated[str, Field(min_length=1, max_length=64, pattern=PLAIN)]
Group = Annotated[str, Field(min_length=1, max_length=32, pattern=PLAIN)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StepBody(_Body):
    after_minutes: Annotated[float, Field(ge=0, le=1440, description="报警后多少分钟 (minutes after the raise)")] = 0
    channel: Literal["sms", "wechat", "webhook"]
    contacts: Annotated[list[Annotated[int, Field(ge=1, le=2**63 - 1)]], Field(max_length=50)] = []
    groups: Annotated[list[Group], Field(max_length=20)] = []
    webhook_url: Annotated[str, Field(max_length=512, pattern=r"^(https?://[^\x00-\x20\x7f]+)?$")] = ""


class RouteBody(_Body):
    name: Name
    rule: Annotated[str | None, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.*?\[\]/-]+$",
                                      description="规则代码或通配 (a rule code or a glob, e.g. gas.*)")] = None
    min_priority: Literal["urgent", "high", "medium", "low"] = "low"
    station: Code | None = None
    area: Annotated[str | None, Field(min_length=1, max_length=64, pattern=PLAIN)] = None
    steps: Annotated[list[StepBody], Field(min_length=1, max_length=5)]
    enabled: bool = True


class RoutePublic(BaseModel):
    id: int
    name: str
    rule: str | None
    min_priority: str
    station: str | None
    area: str | None
    steps: list[dict[str, Any]]
    enabled: bool
    updated_at: datetime
    updated_by: str


class ContactBody(_Body):
    name: Name
    phone: Annotated[str | None, Field(pattern=r"^1[3-9][0-9]{9}$",
                                       description="大陆手机号 (a mainland mobile)")] = None
    wechat_openid: Annotated[str | None, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")] = None
    groups: Annotated[list[Group], Field(max_length=20)] = []
    enabled: bool = True


class ContactPublic(BaseModel):
    id: int
    name: str
    phone: str | None
    wechat_openid: str | None
    groups: list[str]
    enabled: bool
    updated_at: datetime


def _route(route_id: int, body: RouteBody) -> Route:
    try:
        steps = tuple(Step(s.after_minutes, s.channel, tuple(s.contacts), tuple(s.groups), s.webhook_url)
                      for s in body.steps)
        return Route(route_id, body.name, steps, body.rule, Priority(body.min_priority), body.station, body.area,
                     body.enabled)
    except InvalidRoute as exc:
        raise HTTPException(422, str(exc)) from None


def _check_scope(who: Principal, station: str | None) -> None:
    """A station-scoped caller changes only its stations' routes, never a company-wide one."""
    if station is None and who.stations is not None:
        raise HTTPException(403, "全公司路由只能由总部维护 (a route of no station is for head office; name a station)")
    if station is not None:
        who.check_station(station)


async def _save_route(request: Request, db: Db, who: Principal, route: Route) -> RoutePublic:
    async with db.connection() as conn:
        async with UnitOfWork(conn, who.actor) as uow:
            try:
                route_id = await request.app.state.bus.handle(SaveRoute(route), uow)
            except NotFound as exc:
                raise HTTPException(404, str(exc)) from None
        found = await views.route(conn, route_id)
    return RoutePublic(**found or {})


@router.get("/api/v1/notification-routes")
async def list_routes(db: Db, who: Reader, cursor: Cursor = "", limit: Limit = 50) -> dict[str, Any]:
    async with db.connection() as conn:
        items, total, last = await views.routes(conn, who.stations, limit, after(cursor, views.BY_ID))
    return page(items, total, views.BY_ID, last)


@router.post("/api/v1/notification-routes", status_code=status.HTTP_201_CREATED)
async def add_route(body: RouteBody, request: Request, db: Db, who: Configurer, key: IdempotencyKey) -> Any:
    _check_scope(who, body.station)
    route = _route(0, body)
    response = await once(request, db, who, key, lambda: _save_route(request, db, who, route))
    response.status_code = status.HTTP_201_CREATED if response.status_code == 200 else response.status_code
    return response


async def _existing(db: Db, route_id: int, who: Principal) -> dict[str, Any]:
    async with db.connection() as conn:
        found = await views.route(conn, route_id)
    if found is None or (found["station"] is not None and not who.sees(found["station"])):
        raise HTTPException(404, f"没有路由 {route_id} (no notification route {route_id})")
    return found


@router.get("/api/v1/notification-routes/{route_id}")
async def get_route(route_id: RouteId, db: Db, who: Reader) -> RoutePublic:
    return RoutePublic(**await _existing(db, route_id, who))


@router.put("/api/v1/notification-routes/{route_id}")
async def put_route(route_id: RouteId, body: RouteBody, request: Request, db: Db, who: Configurer) -> RoutePublic:
    found = await _existing(db, route_id, who)
    _check_scope(who, found["station"])
    _check_scope(who, body.station)
    return await _save_route(request, db, who, _route(route_id, body))


@router.delete("/api/v1/notification-routes/{route_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_route(route_id: RouteId, request: Request, db: Db, who: Configurer) -> Response:
    found = await _existing(db, route_id, who)   # 404 when gone: a retried delete changes nothing
    _check_scope(who, found["station"])
    async with db.connection() as conn, UnitOfWork(conn, who.actor) as uow:
        await request.app.state.bus.handle(DeleteRoute(route_id), uow)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- contacts -----------------------------------------------------------------------------------------------

@router.get("/api/v1/notification-contacts")
async def list_contacts(db: Db, who: Reader, cursor: Cursor = "", limit: Limit = 50) -> dict[str, Any]:
    async with db.connection() as conn:
        items, total, last = await views.contacts(conn, who.may("pii:read"), limit, after(cursor, views.BY_ID))
    return page(items, total, views.BY_ID, last)


async def _save_contact(request: Request, db: Db, who: Principal, contact_id: int, body: ContactBody) -> ContactPublic:
    async with db.connection() as conn:
        async with UnitOfWork(conn, who.actor) as uow:
            try:
                saved = await request.app.state.bus.handle(
                    SaveContact(contact_id, body.name, body.phone, body.wechat_openid, tuple(body.groups),
                                body.enabled), uow)
            except NotFound as exc:
                raise HTTPException(404, str(exc)) from None
        found = await views.contact(conn, saved, who.may("pii:read"))
    return ContactPublic(**found or {})


@router.post("/api/v1/notification-contacts", status_code=status.HTTP_201_CREATED)
async def add_contact(body: ContactBody, request: Request, db: Db, who: Configurer, key: IdempotencyKey) -> Any:
    if who.stations is not None:
        raise HTTPException(403, "联系人由总部维护 (contacts are kept by head office)")
    response = await once(request, db, who, key, lambda: _save_contact(request, db, who, 0, body))
    response.status_code = status.HTTP_201_CREATED if response.status_code == 200 else response.status_code
    return response


@router.put("/api/v1/notification-contacts/{contact_id}")
async def put_contact(contact_id: ContactId, body: ContactBody, request: Request, db: Db,
                      who: Configurer) -> ContactPublic:
    if who.stations is not None:
        raise HTTPException(403, "联系人由总部维护 (contacts are kept by head office)")
    return await _save_contact(request, db, who, contact_id, body)


# --- what was sent ------------------------------------------------------------------------------------------

@router.get("/api/v1/notifications")
async def sent(db: Db, who: Reader, alarm_id: Annotated[uuid.UUID | None, Query()] = None, cursor: Cursor = "",
               limit: Limit = 50) -> dict[str, Any]:
    async with db.connection() as conn:
        if alarm_id is not None:
            station = await views.alarm_station(conn, alarm_id)
            if station is not None:
                who.check_station(station)
        items, total, last = await views.deliveries(conn, alarm_id, who.stations, who.may("pii:read"), limit,
                                                    after(cursor, views.BY_CREATED))
        answer = page(items, total, views.BY_CREATED, last)
        if alarm_id is not None:
            answer["steps"] = await views.steps(conn, alarm_id)
    return answer
