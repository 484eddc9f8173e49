"""Prices at head office (docs/prices.md, the contract in docs/api.md "Prices"): each station's prices and the
state of its newest set per nozzle, the history of its sets, and the current prices for partners and the
customer H5; the helpers the other price routes share. Price changes are in ``price_changes.py``, the company's
limits and the special-price rules in ``price_rules.py``.

Reads need ``price:read`` (the company's limits too); requesting and cancelling changes ``price:write``; setting
the limits ``price:policy`` with company scope (they bind every station); adding and ending special prices
``price:rule`` for stations in the caller's scope (a rule for every station needs company scope). A caller scoped
to stations sees and changes only its stations (a change across stations needs every one of them in scope).
Changes over the limits are approved in the approvals inbox (kind ``price.change``). A station server serves
``GET /api/v1/stations/{station}/prices`` from its own copy (the station engineer's module); this one is head
office's.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from business_services.pages import Sort
from business_services.prices import views
from business_services.prices.handlers import (
    RequestPriceChange,
)
from business_services.prices.model import PriceError
from business_services.stations.views import SORTS as STATION_SORTS
from control_api.deps import Db, Station
from control_api.pagination import Cursor, Limit, after, page
from control_api.security import Principal, at_station, require

router = APIRouter(tags=["prices"])
Reader = Annotated[Principal, Depends(require("price:read"))]
Writer = Annotated[Principal, Depends(require("price:write"))]
StationReader = Annotated[Principal, Depends(at_station("price:read"))]
Version = Annotated[int, Path(ge=1, lt=2**31, description="价格版本 (a price-set version)")]
Grade = Annotated[str, Field(min_length=1, max_length=16, pattern=r"^[A-Za-z0-9_-]+$")]
Fen = Annotated[int, Field(ge=1, le=10_000)]
SetState = Literal["in_force", "applying", "partly_applied", "scheduled", "none"]
BY_CODE = STATION_SORTS["code"]


# --- bodies and answers -------------------------------------------------------------------------------------

class RequestBody(BaseModel):
    """A request body of the price routes: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")


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


class Limits(BaseModel):
    step_fen: int
    step_pct: float
    day_fen: int


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

def unprocessable(exc: PriceError) -> JSONResponse:
    return JSONResponse({"detail": exc.message, "errors": [{"field": exc.field, "message": exc.message}]},
                        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


def check_stations(who: Principal, codes: list[str]) -> None:
    for code in codes:
        who.check_station(code)


def at_head_office(request: Request) -> None:
    """409 on a station server: prices are decided at head office (forecourt/roles.py: not on this role's bus)."""
    if RequestPriceChange not in request.app.state.bus.commands:
        raise HTTPException(status.HTTP_409_CONFLICT, "价格由总部制定，请在总部后台调价 "
                                                      "(prices are decided at head office; change them there)")


def in_scope(who: Principal, stations: list[str]) -> bool:
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
