"""The station server's prices (``price:read``, station scope): ``GET /api/v1/stations/{station}/prices``.

Mounted only in the station role (``control_api/app.py::ROLE_ROUTERS``); head office answers the same path from
its own prices context. The answer has the shape both share (docs/station-prices.md): the version in force and its
grades, the newest set held and its state, and each of its nozzles' state, with ``old_price_fen``, the price a
nozzle still shows while its new price is pending or refused (the POS's indicator). Read from the station's own
database: the set its edge node holds and the edge's ``price.applied`` reports.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from business_services.station_prices import views
from control_api.deps import Db, Station
from control_api.routes.prices import NozzleStatus
from control_api.security import Principal, at_station

router = APIRouter(prefix="/api/v1/stations/{station}/prices", tags=["prices"])
Reader = Annotated[Principal, Depends(at_station("price:read"))]


class GradePrice(BaseModel):
    grade: str
    unit: str
    price_fen: int
    since: datetime | None


class LatestSet(BaseModel):
    version: int
    state: Literal["in_force", "applying", "partly_applied"]
    effective_at: datetime
    change_no: str


class NozzleState(NozzleStatus):
    old_price_fen: int | None      # what the pump still shows while this price is pending or refused


class StationPrices(BaseModel):
    station: str
    version_in_force: int | None
    grades: list[GradePrice]
    latest: LatestSet | None
    nozzles: list[NozzleState]


@router.get("", response_model=StationPrices)
async def held_prices(station: Station, who: Reader, db: Db) -> StationPrices:
    """The prices this station's pumps hold: the set in force, the newest set and each nozzle's state."""
    async with db.connection() as conn:
        return StationPrices.model_validate(await views.station_prices(conn, station))
