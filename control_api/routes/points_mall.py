"""The points mall at head office (docs/points.md): the catalogue with its stock, and redemptions (stock taken and
points spent exactly once; a resend, even with its key forgotten, finds the first redemption). Reading needs
``member:read``, changes ``points:write`` and are audited; a station server answers 409 to a change.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from business_services.points import views
from business_services.points.model import Redeem, SaveItem
from control_api.deps import Db
from control_api.idempotency import IdempotencyKey, once
from control_api.pagination import Cursor, Limit, after, page
from control_api.routes.points import AT_HEAD_OFFICE, Body, Points, Reader, Writer, change, number_of
from telemetry.contracts.identifiers import PLAIN_TEXT as PLAIN
from telemetry.contracts.identifiers import Code
from telemetry.contracts.members import MemberNo

# every route takes ``who: Reader`` (require("member:read")) or ``who: Writer`` (require("points:write"))

router = APIRouter(prefix="/api/v1/points", tags=["points"])
Sku = Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
                          description="商品编码 (an item's code)")]


class ItemPublic(BaseModel):
    sku: str
    name: str
    kind: Literal["goods", "coupon", "fuel"]
    points: int
    stock: int
    value_fen: int | None
    active: bool
    note: str
    created_at: datetime
    changed_at: datetime


class ItemPage(BaseModel):
    items: list[ItemPublic]
    next_cursor: str | None
    total: int


class RedemptionPublic(BaseModel):
    redemption_no: str
    member_no: str
    sku: str
    name: str
    quantity: int
    points: int
    station: str | None
    redeemed_by: str
    redeemed_at: datetime


class RedemptionPage(BaseModel):
    items: list[RedemptionPublic]
    next_cursor: str | None
    total: int


class ItemBody(Body):
    sku: Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
    name: Annotated[str, Field(min_length=1, max_length=60, pattern=PLAIN)]
    kind: Literal["goods", "coupon", "fuel"]
    points: Points
    stock: Annotated[int, Field(ge=0, le=10_000_000)]
    value_fen: Annotated[int, Field(ge=0, le=100_000_000)] | None = None
    active: bool = True
    note: Annotated[str, Field(max_length=200, pattern=PLAIN)] = ""


class ItemPatch(Body):
    name: Annotated[str, Field(min_length=1, max_length=60, pattern=PLAIN)] | None = None
    kind: Literal["goods", "coupon", "fuel"] | None = None
    points: Points | None = None
    stock: Annotated[int, Field(ge=0, le=10_000_000)] | None = None
    value_fen: Annotated[int, Field(ge=0, le=100_000_000)] | None = None
    active: bool | None = None
    note: Annotated[str, Field(max_length=200, pattern=PLAIN)] | None = None


class RedeemBody(Body):
    member_no: MemberNo
    sku: Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
    quantity: Annotated[int, Field(ge=1, le=100)] = 1
    station: Code | None = None


# ---- the points mall -----------------------------------------------------------------------------------------

@router.get("/mall/items", response_model=ItemPage)
async def items(who: Reader, db: Db, q: Annotated[str | None, Query(max_length=60)] = None,
                kind: Literal["goods", "coupon", "fuel"] | None = None, active: bool | None = None,
                cursor: Cursor = "", limit: Limit = 50) -> ItemPage:
    """The mall's catalogue in code order, with stock."""
    async with db.connection() as conn:
        rows, total, last = await views.items(conn, q=q or None, kind=kind, active=active,
                                              after=after(cursor, views.BY_SKU), limit=limit)
    return ItemPage(**page([ItemPublic(**r) for r in rows], total, views.BY_SKU, last))


@router.post("/mall/items", dependencies=[AT_HEAD_OFFICE], response_model=ItemPublic)
async def add_item(body: ItemBody, request: Request, who: Writer, db: Db, key: IdempotencyKey) -> JSONResponse:
    """Add an item to the catalogue (goods, a coupon, or fuel worth ``value_fen``). Audited."""

    async def work() -> ItemPublic:
        values = body.model_dump(exclude={"sku"})
        await change(request, db, who, SaveItem(body.sku, values, create=True))
        async with db.connection() as conn:
            return ItemPublic(**(await views.item(conn, body.sku) or {}))
    return await once(request, db, who, key, work)


@router.patch("/mall/items/{sku}", dependencies=[AT_HEAD_OFFICE], response_model=ItemPublic)
async def change_item(sku: Sku, body: ItemPatch, request: Request, who: Writer, db: Db) -> ItemPublic:
    """Change an item (stock, points, withdraw it with ``active: false``). Audited with before/after."""
    values = body.model_dump(exclude_unset=True)
    if values:
        await change(request, db, who, SaveItem(sku, values, create=False))
    async with db.connection() as conn:
        row = await views.item(conn, sku)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"没有商品 {sku} (no such item)")
    return ItemPublic(**row)


@router.get("/mall/redemptions", response_model=RedemptionPage)
async def redemptions(who: Reader, db: Db, member_no: Annotated[str, Query(pattern=r"^(M[0-9]{8,12})?$")] = "",
                      sku: Annotated[str, Query(max_length=32)] = "", cursor: Cursor = "",
                      limit: Limit = 50) -> RedemptionPage:
    """Redemptions newest first; a caller scoped to stations sees those made at its stations. Excel: the export
    kind ``points_redemptions`` with the same filters."""
    async with db.connection() as conn:
        rows, total, last = await views.redemptions(conn, views.RedemptionFilter(member_no=member_no, sku=sku),
                                                    who.stations, after(cursor, views.NEWEST_REDEMPTION), limit)
    return RedemptionPage(**page([RedemptionPublic(**r) for r in rows], total, views.NEWEST_REDEMPTION, last))


@router.post("/mall/redemptions", dependencies=[AT_HEAD_OFFICE], response_model=RedemptionPublic)
async def redeem(body: RedeemBody, request: Request, who: Writer, db: Db, key: IdempotencyKey) -> JSONResponse:
    """Redeem an item for points: the stock goes down and the points are spent once (a resend, even with the key
    forgotten, finds the first redemption); out of stock or too few points: 409 saying which. Audited."""
    if body.station is not None:
        who.check_station(body.station)
    number = number_of("PR", who, key)

    async def work() -> RedemptionPublic:
        await change(request, db, who, Redeem(number, body.member_no, body.sku, body.quantity, body.station,
                                               datetime.now(UTC)))
        async with db.connection() as conn:
            row = await views.redemption(conn, number)
        return RedemptionPublic(**(row or {}))
    return await once(request, db, who, key, work)
