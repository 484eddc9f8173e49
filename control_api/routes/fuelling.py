"""Recorded fuelling transactions of a station (the money side of the pumps)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from business_services.fuelling import views
from control_api.deps import Db, Station
from control_api.security import Principal, require

router = APIRouter(prefix="/api/v1/stations/{station}/fuelling-transactions", tags=["fuelling"])


class FuellingPublic(BaseModel):
    pump: str
    fuelling_point: int
    nozzle: int
    grade: int
    transaction_no: int
    volume_l: Decimal
    amount_fen: int
    price_fen_per_l: int
    totalizer_before_l: Decimal
    totalizer_after_l: Decimal
    started_at: datetime
    ended_at: datetime


@router.get("", response_model=list[FuellingPublic])
async def recent(station: Station, db: Db, who: Annotated[Principal, Depends(require("fuelling:read"))],
                 limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[FuellingPublic]:
    """The newest fuellings first."""
    who.check_station(station)
    async with db.connection() as conn:
        rows = await views.recent_fuellings(conn, station, limit)
    return [FuellingPublic.model_validate(r) for r in rows]
