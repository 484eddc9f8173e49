"""Prices at head office (docs/prices.md, the contract in docs/api.md "Prices"): each station's prices and the
state of its newest set per nozzle, the history of its sets, price changes (preview, request with a second
confirmation, cancel, calendar, notice), the company's limits and the special-price rules; and the current
prices for partners and the customer H5.

Reads need ``price:read`` (the company's limits too); requesting and cancelling changes ``price:write``; setting
the limits ``price:policy`` with company scope (they bind every station); adding and ending special prices
``price:rule`` for stations in the caller's scope (a rule for every station needs company scope). A caller scoped
to stations sees and changes only its stations (a change across stations needs every one of them in scope).
Changes over the limits are approved in the approvals inbox (kind ``price.change``). A station server serves
``GET /api/v1/stations/{station}/prices`` from its own copy (the station engineer's module); this one is head
office's.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response, status
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from business_services.pages import Sort
from business_services.prices import notice, views
from business_services.prices.handlers import (
    AddPriceRule,
    CancelPriceChange,
    EndPriceRule,
    RequestPriceChange,
    SetPricePolicy,
    plan,
)
from business_services.prices.model import Conflict, NotFound, NozzleRequest, PriceError
from business_services.prices.repository import policy as read_policy
from business_services.prices.resolution import check_rule
from business_services.stations.views import SORTS as STATION_SORTS
from business_services.unit_of_work import UnitOfWork
from control_api.deps import Db, Station
from control_api.idempotency import IdempotencyKey, once
from control_api.pagination import Cursor, Limit, after, page
from control_api.security import Principal, at_station, require
from telemetry.contracts.identifiers import Code

router = APIRouter(tags=["prices"])
Reader = Annotated[Principal, Depends(require("price:read"))]
Writer = Annotated[Principal, Depends(require("price:write"))]
PolicyHolder = Annotated[Principal, Depends(require("price:policy"))]
RuleKeeper = Annotated[Principal, Depends(require("price:rule"))]
StationReader = Annotated[Principal, Depends(at_station("price:read"))]
ChangeNo = Annotated[str, Path(min_length=6, max_length=64, pattern=r"^PC-[0-9]{8}-[0-9]{5,}$",
                               description="调价单号 change number, e.g. PC-20261204-00017")]
Version = Annotated[int, Path(ge=1, lt=2**31, description="价格版本 (a price-set version)")]
RuleId = Annotated[int, Path(ge=1, le=2**63 - 1, description="特殊价格规则编号 (a price rule's id)")]
Grade = Annotated[str, Field(min_length=1, max_length=16, pattern=r"^[A-Za-z0-9_-]+$")]
Fen = Annotated[int, Field(ge=1, le=10_000)]
SetState = Literal["in_force", "applying", "partly_applied", "scheduled", "none"]
ChangeState = Literal["awaiting_approval", "scheduled", "sent", "rejected", "cancelled"]
BY_CODE = STATION_SORTS["code"]


# --- bodies and answers -------------------------------------------------------------------------------------

class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NozzleBody(_Body):
    station: Code
    device: Code
    fuelling_point: Annotated[int, Field(ge=1, le=4)]
    nozzle: Annotated[int, Field(ge=1, le=4)]
    price_fen: Fen


class ChangeBody(_Body):
    stations: Annotated[list[Code], Field(max_length=500)] = []
    units: Annotated[list[Code], Field(max_length=50, description="区域 (org units: a region, the company): their "
                                       "stations in the caller's scope join the change")] = []
    grades: Annotated[dict[Grade, Fen], Field(max_length=16)] = {}
    nozzles: Annotated[list[NozzleBody], Field(max_length=256)] = []
    effective_at: datetime | None = None
    reason: Annotated[str, Field(max_length=200)] = ""
    confirmed: bool = False


class GradePrice(BaseModel):
    grade: str
    unit: str
    price_fen: int


class GradeSince(GradePrice):
    since: datetime


class StationPriceRow(BaseModel):
    station: str
    name: str
    version_in_force: int | None
    version_latest: int | None
    state: SetState
    grades: list[GradePrice]
    updated_at: datetime | None


class StationPricePage(BaseModel):
    items: list[StationPriceRow]
    next_cursor: str | None
    total: int


class Latest(BaseModel):
    version: int | None
    state: SetState
    effective_at: datetime | None
    change_no: str | None


class NozzleStatus(BaseModel):
    device: str
    fuelling_point: int
    nozzle: int
    grade: str
    price_fen: int
    version: int
    state: Literal["applied", "refused", "pending"]
    detail: str
    at: datetime | None


class StationPrices(BaseModel):
    station: str
    version_in_force: int | None
    grades: list[GradeSince]
    latest: Latest | None
    nozzles: list[NozzleStatus]


class SetHistoryRow(BaseModel):
    version: int
    change_no: str | None
    effective_at: datetime
    sent_at: datetime
    in_force_at: datetime | None
    state: SetState
    applied: int
    refused: int
    pending: int
    requested_by: str
    approved_by: str | None
    reason: str


class SetHistoryPage(BaseModel):
    items: list[SetHistoryRow]
    next_cursor: str | None
    total: int


class PriceSetDetail(SetHistoryRow):
    grades: list[GradeSince]
    nozzles: list[NozzleStatus]


class PreviewLine(BaseModel):
    station: str
    grade: str
    device: str | None
    fuelling_point: int | None
    nozzle: int | None
    old_price_fen: int | None
    new_price_fen: int
    delta_fen: int
    delta_pct: float
    over_step: bool
    over_day: bool


class Limits(BaseModel):
    step_fen: int
    step_pct: float
    day_fen: int


class Preview(BaseModel):
    lines: list[PreviewLine]
    nozzles_affected: int
    needs_approval: bool
    why: list[str]
    limits: Limits
    stations: list[str]             # the stations the change moves (named, and through its regions)
    notes: list[str]                # first sets (no old price: the limits do not apply), stations left out


class UnitStations(BaseModel):
    code: str
    name: str
    kind: Literal["company", "region"]
    stations: list[str]


class StationVersion(BaseModel):
    station: str
    version: int | None


class ChangeAnswer(BaseModel):
    change_no: str
    state: ChangeState
    approval_id: str | None
    effective_at: datetime | None
    stations: list[StationVersion]


class ChangeRow(BaseModel):
    change_no: str
    state: ChangeState
    stations: list[str]
    units: list[str]                # the regions it named (their stations are in ``stations``)
    effective_at: datetime | None
    reason: str
    requested_by: str
    requested_at: datetime
    approved_by: str | None
    approval_id: str | None
    lines_count: int


class ChangePage(BaseModel):
    items: list[ChangeRow]
    next_cursor: str | None
    total: int


class ChangeLine(BaseModel):
    station: str
    grade: str
    device: str | None
    fuelling_point: int | None
    nozzle: int | None
    old_price_fen: int | None
    new_price_fen: int


class ChangeDetail(ChangeRow):
    sent_at: datetime | None
    cancelled_by: str | None
    cancelled_at: datetime | None
    lines: list[ChangeLine]
    versions: list[StationVersion]


class CalendarEntry(BaseModel):
    change_no: str
    effective_at: datetime
    stations: list[str]
    state: ChangeState
    summary: str


class PolicyBody(_Body):
    step_fen: Annotated[int, Field(ge=1, le=10_000)]
    step_pct: Annotated[Decimal, Field(ge=Decimal("0.01"), le=100, max_digits=5, decimal_places=2)]
    day_fen: Annotated[int, Field(ge=1, le=10_000)]


class RuleBody(_Body):
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


class CurrentGrade(BaseModel):
    grade: str
    name: str
    unit: str
    price_fen: int
    since: datetime


class CurrentPrices(BaseModel):
    station: str
    name: str
    version: int | None
    grades: list[CurrentGrade]


# --- helpers -----------------------------------------------------------------------------------------------

def _unprocessable(exc: PriceError) -> JSONResponse:
    return JSONResponse({"detail": exc.message, "errors": [{"field": exc.field, "message": exc.message}]},
                        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


def _check_stations(who: Principal, codes: list[str]) -> None:
    for code in codes:
        who.check_station(code)


def _command(request: Request, body: ChangeBody, who: Principal) -> RequestPriceChange:
    effective = body.effective_at
    if effective is not None and effective.tzinfo is None:
        raise PriceError("effective_at", "生效时间须带时区 (effective_at needs a time zone, e.g. +08:00)")
    return RequestPriceChange(
        request.app.state.group, tuple(body.stations), dict(body.grades),
        tuple(NozzleRequest(n.station, n.device, n.fuelling_point, n.nozzle, n.price_fen) for n in body.nozzles),
        effective, body.reason, units=tuple(body.units), scope=who.stations)


def _at_head_office(request: Request) -> None:
    """409 on a station server: prices are decided at head office (forecourt/roles.py: not on this role's bus)."""
    if RequestPriceChange not in request.app.state.bus.commands:
        raise HTTPException(status.HTTP_409_CONFLICT, "价格由总部制定，请在总部后台调价 "
                                                      "(prices are decided at head office; change them there)")


def _in_scope(who: Principal, stations: list[str]) -> bool:
    return who.stations is None or all(who.sees(s) for s in stations)


# --- a station's prices ------------------------------------------------------------------------------------

@router.get("/api/v1/prices/stations", response_model=StationPricePage)
async def station_list(who: Reader, db: Db, q: Annotated[str, Query(max_length=64)] = "", cursor: Cursor = "",
                       limit: Limit = 50) -> StationPricePage:
    """Each station in the caller's scope with its prices in force and the state of its newest set."""
    async with db.connection() as conn:
        items, total, last = await views.station_list(conn, who.stations, q, after(cursor, BY_CODE), limit)
    return StationPricePage(**page([StationPriceRow(**i) for i in items], total, BY_CODE, last))


@router.get("/api/v1/stations/{station}/prices", response_model=StationPrices)
async def station_prices(station: Station, who: StationReader, db: Db) -> StationPrices:
    """The prices in force per grade, the newest decision, and each nozzle's state under the newest set."""
    async with db.connection() as conn:
        found = await views.station_prices(conn, station)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"没有站点 {station} (no station {station})")
    return StationPrices(**found)


@router.get("/api/v1/stations/{station}/price-sets", response_model=SetHistoryPage)
async def set_history(station: Station, who: StationReader, db: Db, cursor: Cursor = "",
                      limit: Limit = 50) -> SetHistoryPage:
    """The station's sets, newest first, with who asked, who approved, why, and how each nozzle took it."""
    sort: Sort = views.NEWEST_VERSION
    async with db.connection() as conn:
        rows, total, last = await views.set_history(conn, station, after(cursor, sort), limit)
    return SetHistoryPage(**page([SetHistoryRow(**r) for r in rows], total, sort, last))


@router.get("/api/v1/stations/{station}/price-sets/{version}", response_model=PriceSetDetail)
async def price_set(station: Station, version: Version, who: StationReader, db: Db) -> PriceSetDetail:
    async with db.connection() as conn:
        found = await views.price_set(conn, station, version)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"站点 {station} 没有价格版本 {version} "
                                                       f"(station {station} has no price set {version})")
    return PriceSetDetail(**found)


@router.get("/api/v1/prices/current", response_model=CurrentPrices)
async def current_prices(who: Reader, db: Db, station: Annotated[str, Query(min_length=1, max_length=32,
                                                                            pattern=r"^[a-z0-9][a-z0-9-]*$")]
                         ) -> CurrentPrices:
    """The prices in force at a station, for partners and the customer H5 (API keys holding ``price:read``)."""
    who.check_station(station)
    async with db.connection() as conn:
        found = await views.current_public(conn, station)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"没有站点 {station} (no station {station})")
    return CurrentPrices(**found)


# --- changes -----------------------------------------------------------------------------------------------

@router.get("/api/v1/prices/units", response_model=list[UnitStations])
async def units(who: Reader, db: Db) -> list[UnitStations]:
    """The regions (and the company) a change may name, each with its stations in the caller's scope."""
    async with db.connection() as conn:
        return [UnitStations(**u) for u in await views.units_in_scope(conn, who.stations)]


@router.post("/api/v1/price-changes/preview", response_model=Preview)
async def preview(body: ChangeBody, request: Request, who: Writer, db: Db) -> Preview | JSONResponse:
    """What a change would do: its lines against the limits, the nozzles it moves, whether it needs approval.
    Nothing is written."""
    _at_head_office(request)
    _check_stations(who, [*body.stations, *(n.station for n in body.nozzles)])
    try:
        command = _command(request, body, who)
        async with db.connection() as conn:
            worked = await plan(conn, command)
    except PriceError as exc:
        return _unprocessable(exc)
    lines = [PreviewLine(station=ln.station, grade=ln.grade, device=ln.device, fuelling_point=ln.fuelling_point,
                         nozzle=ln.nozzle, old_price_fen=ln.old_price_fen, new_price_fen=ln.new_price_fen,
                         delta_fen=ln.delta_fen, delta_pct=ln.delta_pct, over_step=ln.over_step,
                         over_day=ln.over_day) for ln in worked.lines]
    return Preview(lines=lines, nozzles_affected=worked.nozzles_affected, needs_approval=worked.needs_approval,
                   why=worked.why, limits=Limits(step_fen=worked.policy.step_fen,
                                                 step_pct=float(worked.policy.step_pct),
                                                 day_fen=worked.policy.day_fen),
                   stations=worked.stations, notes=worked.notes)


@router.post("/api/v1/price-changes", response_model=ChangeAnswer)
async def request_change(body: ChangeBody, request: Request, who: Writer, db: Db, key: IdempotencyKey) -> Response:
    """Request a change; ``confirmed: true`` is the second confirmation the page asks for (422 without it).
    Within the limits it is sent at once or scheduled; over them it waits for a second person's approval."""
    _at_head_office(request)
    _check_stations(who, [*body.stations, *(n.station for n in body.nozzles)])
    if not body.confirmed:
        return JSONResponse({"detail": "请再次确认调价 (confirm the change: send confirmed: true)",
                             "errors": [{"field": "confirmed", "message": "请再次确认 (confirm the change)"}]},
                            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)

    async def work() -> ChangeAnswer:
        try:
            command = _command(request, body, who)
            async with db.connection() as conn, UnitOfWork(conn, who.actor) as uow:
                answer = await request.app.state.bus.handle(command, uow)
        except PriceError as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"{exc.message} ({exc.field})") from exc
        return ChangeAnswer(**answer)
    return await once(request, db, who, key, work)


@router.get("/api/v1/price-changes", response_model=ChangePage)
async def changes(who: Reader, db: Db, state: ChangeState | None = None,
                  station: Annotated[str | None, Query(max_length=32)] = None,
                  since: Annotated[datetime | None, Query(alias="from")] = None,
                  until: Annotated[datetime | None, Query(alias="to")] = None,
                  cursor: Cursor = "", limit: Limit = 50) -> ChangePage:
    """Changes newest first (by when they were requested); filter by state, station and effective time."""
    if station is not None:
        who.check_station(station)
    sort = views.NEWEST_CHANGE
    async with db.connection() as conn:
        rows, total, last = await views.changes(conn, who.stations, state=state, station=station, since=since,
                                                until=until, after=after(cursor, sort), limit=limit)
    return ChangePage(**page([ChangeRow(**{**r, "approval_id": None if r["approval_id"] is None
                                           else str(r["approval_id"])}) for r in rows], total, sort, last))


@router.get("/api/v1/price-changes/calendar", response_model=list[CalendarEntry])
async def calendar(who: Reader, db: Db, since: Annotated[datetime | None, Query(alias="from")] = None,
                   until: Annotated[datetime | None, Query(alias="to")] = None) -> list[CalendarEntry]:
    """Changes by their time (effective, else requested) in [from, to); default: this month and the next."""
    now = datetime.now(UTC)
    start = since or now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = until or start + timedelta(days=62)
    if start.tzinfo is None or end.tzinfo is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "from/to 须带时区 (from and to need a time zone)")
    async with db.connection() as conn:
        rows = await views.calendar(conn, who.stations, start, end)
    return [CalendarEntry(**r) for r in rows]


async def _visible_change(db: Any, who: Principal, change_no: str) -> dict[str, Any]:
    async with db.connection() as conn:
        found = await views.change_detail(conn, change_no)
    if found is None or not _in_scope(who, found["stations"]):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"没有调价单 {change_no} (no price change {change_no} "
                                                       "in your scope)")
    return found


@router.get("/api/v1/price-changes/{change_no}", response_model=ChangeDetail)
async def change_detail(change_no: ChangeNo, who: Reader, db: Db) -> ChangeDetail:
    found = await _visible_change(db, who, change_no)
    return ChangeDetail(**{**found, "approval_id": None if found["approval_id"] is None
                           else str(found["approval_id"])})


@router.post("/api/v1/price-changes/{change_no}/cancel", response_model=ChangeAnswer)
async def cancel_change(change_no: ChangeNo, request: Request, who: Writer, db: Db, key: IdempotencyKey) -> Response:
    """Cancel a scheduled change, or withdraw one awaiting approval (its requester); a sent change stays (409)."""
    _at_head_office(request)
    await _visible_change(db, who, change_no)

    async def work() -> ChangeAnswer:
        try:
            async with db.connection() as conn, UnitOfWork(conn, who.actor) as uow:
                answer = await request.app.state.bus.handle(CancelPriceChange(change_no), uow)
        except NotFound as exc:
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
        except Conflict as exc:
            raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
        return ChangeAnswer(**answer)
    return await once(request, db, who, key, work)


@router.get("/api/v1/price-changes/{change_no}/notice", response_model=None)
async def change_notice(change_no: ChangeNo, who: Reader, db: Db,
                        station: Annotated[str, Query(min_length=1, max_length=32, pattern=r"^[a-z0-9][a-z0-9-]*$")],
                        format: Annotated[Literal["html", "pdf"], Query()] = "html") -> Response:
    """The price-change notice (调价公告) of one station of the change, as HTML (to print or show) or PDF."""
    who.check_station(station)
    found = await _visible_change(db, who, change_no)
    if station not in found["stations"]:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"调价单 {change_no} 不涉及站点 {station} "
                                                       f"(price change {change_no} does not name station {station})")
    async with db.connection() as conn:
        data = await notice.notice_data(conn, found, station)
    if format == "pdf":
        return Response(notice.notice_pdf(data), media_type="application/pdf",
                        headers={"Content-Disposition": f'inline; filename="{change_no}-{station}.pdf"'})
    return HTMLResponse(notice.notice_html(data))


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
    _at_head_office(request)
    if who.stations is not None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "调价限额适用于全公司，需要全公司范围 "
                                                       "(the limits bind every station: they need company scope)")
    try:
        async with db.connection() as conn, UnitOfWork(conn, who.actor) as uow:
            answer = await request.app.state.bus.handle(
                SetPricePolicy(request.app.state.group, body.step_fen, body.step_pct, body.day_fen), uow)
    except PriceError as exc:
        return _unprocessable(exc)
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
    _at_head_office(request)
    if body.stations is None and who.stations is not None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "全公司适用的规则需要全公司范围，请选择站点 (a rule for "
                                                       "every station needs company scope; choose stations)")
    _check_stations(who, body.stations or [])
    valid_from = body.valid_from or datetime.now(UTC)
    try:
        _checked_rule(body, valid_from)
    except PriceError as exc:
        return _unprocessable(exc)

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
    _at_head_office(request)
    async with db.connection() as conn:
        found = await views.rule(conn, request.app.state.group, rule_id)
        if found is None or (who.stations is not None and (found["stations"] is None
                                                           or not _in_scope(who, found["stations"]))):
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

