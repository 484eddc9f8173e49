"""Head office's copies of the stations' shifts and their reconciliation (班次对账).

Reads need ``report:read``; running a shift's reconciliation now needs ``shift:reconcile`` (finance, admin).
A station-scoped caller sees its own stations only. The verdicts and what to do with a difference:
docs/reconciliation.md.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, status
from pydantic import BaseModel

from business_services.station_shifts import views
from business_services.station_shifts.model import (
    DEFAULT_MISSING_CLOSE_AFTER,
    ReconcileShift,
    ShiftCopyNotFound,
    Verdict,
)
from business_services.unit_of_work import UnitOfWork
from control_api.deps import Db, Station
from control_api.pagination import Limit
from control_api.security import Principal, require
from telemetry.contracts.identifiers import CODE_PATTERN

router = APIRouter(prefix="/api/v1/station-shifts", tags=["station-shifts"])
Reader = Annotated[Principal, Depends(require("report:read"))]
ShiftNo = Annotated[str, Path(min_length=6, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
                              description="班次号 shift number, e.g. demo-01-20261204-S00001")]
#: a keyset cursor holds a time, a station and a shift number: longer than the offset cursors' 64 characters
Cursor = Annotated[str, Query(max_length=256, description="上一页返回的 next_cursor (the previous page's next_cursor)")]
_CODE, _SHIFT_NO = re.compile(CODE_PATTERN), re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{5,63}$")
_CODE_OR_EMPTY = f"^({CODE_PATTERN[1:-1]})?$"
_BAD_CURSOR = "分页游标无效，请从第一页重新开始 (the cursor is not valid; start again without it)"


def _reconciler(station: Station, who: Annotated[Principal, Depends(require("shift:reconcile"))]) -> Principal:
    who.check_station(station)
    return who


class Gap(BaseModel):
    method: str
    reported_fen: int
    received_fen: int
    difference_fen: int


class StationShift(BaseModel):
    station: str
    shift_no: str
    definition: str | None
    opened_by: str
    opened_at: datetime
    closed_by: str | None
    closed_at: datetime | None
    order_count: int | None
    sales_fen: int | None
    volume_l: Decimal | None
    cash_expected_fen: int | None
    cash_counted_fen: int | None
    over_short_fen: int | None
    unpaid_orders: list[str] | None
    override_reason: str | None
    status: Verdict
    gaps: list[Gap]
    checked_at: datetime | None


class StationShiftPage(BaseModel):
    items: list[StationShift]
    next_cursor: str | None
    total: int


class MethodSide(BaseModel):
    """One method: the station's reported takings beside what head office received."""

    method: str
    reported_captured_fen: int | None
    reported_refunded_fen: int | None
    reported_net_fen: int | None
    received_payments: int
    received_refunds: int
    received_net_fen: int


class VerdictLine(BaseModel):
    status: Verdict
    gaps: list[Gap]
    decided_at: datetime


class StationShiftDetail(StationShift):
    methods: list[MethodSide]
    history: list[VerdictLine]


def _encode(row: dict[str, Any]) -> str:
    raw = f"k:{row['opened_at'].astimezone(UTC).isoformat()}|{row['station']}|{row['shift_no']}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _decode(cursor: str) -> views.Position | None:
    if not cursor:
        return None
    try:
        kind, _, value = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
        at, station, shift_no = value.split("|")
        opened_at = datetime.fromisoformat(at)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise HTTPException(422, _BAD_CURSOR) from None
    if kind != "k" or opened_at.tzinfo is None or not _CODE.match(station) or not _SHIFT_NO.match(shift_no):
        raise HTTPException(422, _BAD_CURSOR)
    return opened_at, station, shift_no


def _time(value: str, name: str) -> datetime | None:
    """An ISO UTC time from the query; empty means no filter."""
    if not value:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        at = None
    if at is None or at.tzinfo is None:
        raise HTTPException(422, f"{name} 应为带时区的时间，如 2026-12-04T00:00:00Z ({name} must be an ISO UTC time)")
    return at


def _methods(row: dict[str, Any], received: dict[str, dict[str, int]]) -> list[MethodSide]:
    reported = {t["method"]: t for t in row["takings"] or []}
    sides = []
    for method in sorted(set(reported) | set(received)):
        r, got = reported.get(method), received.get(method, {"payments": 0, "refunds": 0, "net_fen": 0})
        sides.append(MethodSide(
            method=method, reported_captured_fen=r["captured_fen"] if r else None,
            reported_refunded_fen=r["refunded_fen"] if r else None,
            reported_net_fen=r["captured_fen"] - r["refunded_fen"] if r else None,
            received_payments=got["payments"], received_refunds=got["refunds"], received_net_fen=got["net_fen"]))
    return sides


@router.get("", response_model=StationShiftPage)
async def station_shifts(
        who: Reader, db: Db,
        station: Annotated[str, Query(max_length=32, pattern=_CODE_OR_EMPTY, description="站点编码")] = "",
        verdict: Annotated[str, Query(alias="status", pattern=f"^({'|'.join(Verdict)})?$",
                                      description="核对结论 (verdict)")] = "",
        opened_from: Annotated[str, Query(alias="from", max_length=40, description="开班时间起 (opened from)")] = "",
        opened_to: Annotated[str, Query(alias="to", max_length=40, description="开班时间止 (opened before)")] = "",
        cursor: Cursor = "", limit: Limit = 20) -> StationShiftPage:
    """The stations' shifts as head office holds them, newest first, with each one's verdict. An empty filter
    is no filter."""
    if station:
        who.check_station(station)
    after = _decode(cursor)
    async with db.connection() as conn:
        rows, total = await views.shifts(conn, stations=who.stations, station=station or None,
                                         status=verdict or None, opened_from=_time(opened_from, "from"),
                                         opened_to=_time(opened_to, "to"), after=after, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return StationShiftPage(items=[StationShift(**r) for r in rows], total=total,
                            next_cursor=_encode(rows[-1]) if more else None)


async def _detail(db: Db, station: str, shift_no: str) -> StationShiftDetail:
    async with db.connection() as conn:
        row = await views.shift(conn, station, shift_no)
        if row is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND,
                                f"总部没有班次 {shift_no} 的记录 (no copy of shift {shift_no} at head office)")
        received = await views.received(conn, station, shift_no)
        history = await views.history(conn, station, shift_no)
    return StationShiftDetail(**row, methods=_methods(row, received), history=[VerdictLine(**h) for h in history])


@router.get("/{station}/{shift_no}", response_model=StationShiftDetail)
async def station_shift(station: Station, shift_no: ShiftNo, who: Reader, db: Db) -> StationShiftDetail:
    """One shift: the station's report beside what head office received, per method; the verdict and its history."""
    who.check_station(station)
    return await _detail(db, station, shift_no)


@router.post("/{station}/{shift_no}/reconcile", response_model=StationShiftDetail)
async def reconcile(station: Station, shift_no: ShiftNo, request: Request, db: Db,
                    who: Annotated[Principal, Depends(_reconciler)]) -> StationShiftDetail:
    """Reconcile this shift now (the periodic pull does the same for every open question); safe to repeat."""
    after = timedelta(hours=float(getattr(request.app.state, "missing_close_after_h",
                                          DEFAULT_MISSING_CLOSE_AFTER.total_seconds() / 3600)))
    command = ReconcileShift(station, shift_no, datetime.now(UTC), after)
    if not request.app.state.bus.handles(command):
        raise HTTPException(status.HTTP_409_CONFLICT, "班次对账在总部进行 (shifts are reconciled at head office)")
    try:
        async with db.connection() as conn, UnitOfWork(conn, who.actor) as uow:
            await request.app.state.bus.handle(command, uow)
    except ShiftCopyNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    return await _detail(db, station, shift_no)
