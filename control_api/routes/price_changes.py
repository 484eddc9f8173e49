"""Price changes at head office (docs/prices.md "Changes", the contract in docs/api.md "Prices"): preview,
request with a second confirmation, the list, the calendar, one change, cancel and its notice (调价公告); and the
organisation units a change can name. A station's prices and their history are in ``prices.py``.

Reading them needs ``price:read``; requesting and cancelling ``price:write``. A caller scoped to stations sees and
changes only its stations (a change across stations needs every one of them in scope). Changes over the limits
are approved in the approvals inbox (kind ``price.change``); a station server answers 409.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response, status
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field

from business_services.prices import notice, views
from business_services.prices.handlers import (
    CancelPriceChange,
    RequestPriceChange,
    plan,
)
from business_services.prices.model import Conflict, NotFound, NozzleRequest, PriceError
from business_services.unit_of_work import UnitOfWork
from control_api.deps import Db
from control_api.idempotency import IdempotencyKey, once
from control_api.pagination import Cursor, Limit, after, page
from control_api.routes.prices import (
    Fen,
    Grade,
    Limits,
    Reader,
    RequestBody,
    Writer,
    at_head_office,
    check_stations,
    in_scope,
    unprocessable,
)
from control_api.security import Principal
from telemetry.contracts.identifiers import Code

router = APIRouter(tags=["prices"])
ChangeNo = Annotated[str, Path(min_length=6, max_length=64, pattern=r"^PC-[0-9]{8}-[0-9]{5,}$",
                               description="调价单号 change number, e.g. PC-20261204-00017")]
ChangeState = Literal["awaiting_approval", "scheduled", "sent", "rejected", "cancelled"]


class NozzleBody(RequestBody):
    station: Code
    device: Code
    fuelling_point: Annotated[int, Field(ge=1, le=4)]
    nozzle: Annotated[int, Field(ge=1, le=4)]
    price_fen: Fen


class ChangeBody(RequestBody):
    stations: Annotated[list[Code], Field(max_length=500, default_factory=list)]
    units: Annotated[list[Code], Field(max_length=50, description="区域 (org units: a region, the company): their "
                                       "stations in the caller's scope join the change",
                                       default_factory=list)]
    grades: Annotated[dict[Grade, Fen], Field(max_length=16, default_factory=dict)]
    nozzles: Annotated[list[NozzleBody], Field(max_length=256, default_factory=list)]
    effective_at: datetime | None = None
    reason: Annotated[str, Field(max_length=200)] = ""
    confirmed: bool = False


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


def _command(request: Request, body: ChangeBody, who: Principal) -> RequestPriceChange:
    effective = body.effective_at
    if effective is not None and effective.tzinfo is None:
        raise PriceError("effective_at", "生效时间须带时区 (effective_at needs a time zone, e.g. +08:00)")
    return RequestPriceChange(
        request.app.state.group, tuple(body.stations), dict(body.grades),
        tuple(NozzleRequest(n.station, n.device, n.fuelling_point, n.nozzle, n.price_fen) for n in body.nozzles),
        effective, body.reason, units=tuple(body.units), scope=who.stations)


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
    at_head_office(request)
    check_stations(who, [*body.stations, *(n.station for n in body.nozzles)])
    try:
        command = _command(request, body, who)
        async with db.connection() as conn:
            worked = await plan(conn, command)
    except PriceError as exc:
        return unprocessable(exc)
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
    at_head_office(request)
    check_stations(who, [*body.stations, *(n.station for n in body.nozzles)])
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
    if found is None or not in_scope(who, found["stations"]):
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
    at_head_office(request)
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
