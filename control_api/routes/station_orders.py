"""Head office's copy of a station's orders (``order:read``, station scope): what the station server reported.

The station server owns its orders and serves them at ``/api/v1/stations/{station}/orders``; head office
holds the copy its events built (``business_services/station_orders``) and serves it here, so a finance
user at head office sees every station's sales also while a station is offline (up to what it reported).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from pydantic import BaseModel

from business_services.orders.views import decode_cursor, encode_cursor
from business_services.station_orders import views
from control_api.deps import Db, Station
from control_api.pagination import Cursor, Limit
from control_api.security import Principal, at_station

router = APIRouter(prefix="/api/v1/stations/{station}/reported-orders", tags=["orders"])
OrderNo = Annotated[str, Path(min_length=6, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
Text = Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9_.-]*$")]


Reader = Annotated[Principal, Depends(at_station("order:read"))]


class ReportedOrder(BaseModel):
    station: str
    order_no: str
    kind: str | None
    status: str
    version: int
    pump: str | None
    fuelling_point: int | None
    nozzle: int | None
    grade: int | None
    volume_l: Decimal | None
    price_fen_per_l: int | None
    amount_fen: int | None
    paid_fen: int
    written_off_fen: int | None
    shift_no: str | None
    tags: list[dict[str, Any]]
    note: str
    held_reason: str | None
    fuelled_at: datetime | None
    created_at: datetime | None
    changed_at: datetime | None
    received_at: datetime
    price_set: int | None = None       # the price-set version a fuelling was sold under


class ReportedPage(BaseModel):
    items: list[ReportedOrder]
    next_cursor: str | None


@router.get("", response_model=ReportedPage)
async def reported(station: Station, who: Reader, db: Db, shift_no: Text = None, status_: Annotated[
        str | None, Query(alias="status", max_length=32, pattern=r"^[a-z_]*$")] = None,
        since: Annotated[datetime | None, Query(alias="from")] = None,
        until: Annotated[datetime | None, Query(alias="to")] = None,
        cursor: Cursor = "", limit: Limit = 50) -> ReportedPage:
    """The station's orders as head office holds them, newest first (an order whose creation has not arrived
    yet is left out until it does; ``GET …/{order_no}`` shows it)."""
    try:
        after = decode_cursor(cursor) if cursor else None
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    async with db.connection() as conn:
        rows = await views.page(conn, station=station, shift_no=shift_no, status=status_, since=since, until=until,
                                after=after, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1] if rows else None
    return ReportedPage(items=[ReportedOrder(**r) for r in rows],
                        next_cursor=encode_cursor(last["created_at"], last["order_no"]) if more and last else None)


@router.get("/{order_no}", response_model=ReportedOrder)
async def reported_one(station: Station, order_no: OrderNo, who: Reader, db: Db) -> ReportedOrder:
    async with db.connection() as conn:
        row = await views.one(conn, station, order_no)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND,
                            f"总部没有 {station} 的订单 {order_no} (head office holds no such order yet)")
    return ReportedOrder(**row)
