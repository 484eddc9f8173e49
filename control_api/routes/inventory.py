"""Wet stock (罐存比对): tank reconciliation by shift and day (JSON, Excel, PDF), delivery notes (卸车记录),
manual dips, transfers and pump tests, loss tolerances, and the over-tolerance conditions. docs/inventory.md.

Only the reconciliation's reads (``reports``) are on both roles: head office answers them from the copies the
station servers send up (``inventory.reconciled``); everything else is the station server's (``router``).
Reads need ``inventory:read``; notes, dips, movements and a recomputation ``inventory:write``; tolerances (one
set for the company) ``inventory:configure``. Every station route checks the caller's station scope first.
A POST is keyed by its natural key (note number, tank and time, reference), so a retry records nothing twice:
201 when recorded, 200 when it was already there.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from business_services.inventory import views
from business_services.inventory.model import (
    InventoryError,
    ReconcileDay,
    ReconcileShift,
    RecordDeliveryNote,
    RecordDip,
    RecordMovement,
    SetTolerance,
    Tolerance,
)
from business_services.inventory.report_files import report_pdf, report_xlsx
from business_services.numbers import STATION_ZONE
from business_services.stations.model import GRADES
from business_services.unit_of_work import UnitOfWork
from control_api.deps import Db, Station
from control_api.security import Principal, at_station, require

router = APIRouter(prefix="/api/v1", tags=["inventory"])          # the station server's (ROLE_ROUTERS)
reports = APIRouter(prefix="/api/v1", tags=["inventory"])         # both roles: head office reads its copies

Reader = Annotated[Principal, Depends(at_station("inventory:read"))]
Writer = Annotated[Principal, Depends(at_station("inventory:write"))]
TolReader = Annotated[Principal, Depends(require("inventory:read"))]
Configurer = Annotated[Principal, Depends(require("inventory:configure"))]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _station_time(value: datetime) -> datetime:
    """A time without a zone (a form's 2026-12-04T10:30) is the station's local time."""
    return value if value.tzinfo is not None else value.replace(tzinfo=STATION_ZONE)


LocalTime = Annotated[datetime, AfterValidator(_station_time), Field(description="带时区，或按站点本地时间")]
LIQUID_GRADES = tuple(code for code, g in GRADES.items() if g.unit == "L")
PeriodQuery = Annotated[Literal["shift", "day"], Query(description="shift 班次 | day 日")]
Key = Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
                                  description="日期 YYYY-MM-DD 或班次号 (the day or the shift number)")]


def _refused(exc: InventoryError) -> JSONResponse:
    """422 naming the field to correct (the project's shape: ``detail`` and ``errors``)."""
    return JSONResponse({"detail": exc.message, "errors": [{"field": exc.field, "message": exc.message}]},
                        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


async def _handle(request: Request, db: Db, who: Principal, command: Any) -> Any:
    """The command through the bus in one unit of work; an ``InventoryError`` propagates (the route answers 422)."""
    async with db.connection() as conn, UnitOfWork(conn, who.actor) as uow:
        return await request.app.state.bus.handle(command, uow)


def _created(added: bool, body: dict[str, Any]) -> Response:
    return Response(json.dumps({**body, "recorded": added}, ensure_ascii=False, default=str),
                    status_code=status.HTTP_201_CREATED if added else status.HTTP_200_OK,
                    media_type="application/json")


@reports.get("/stations/{station}/tank-reconciliation", response_model=None,
            responses={200: {"content": {XLSX: {}, "application/pdf": {}}}})
async def tank_reconciliation(station: Station, db: Db, who: Reader, period: PeriodQuery = "day", key: Key = None,
                              day_from: Annotated[date | None, Query(description="起始日期 (station-local)")] = None,
                              day_to: Annotated[date | None, Query(description="截止日期 (inclusive)")] = None,
                              format: Annotated[Literal["json", "xlsx", "pdf"], Query(
                                  description="json | xlsx | pdf (files need key)")] = "json",
                              ) -> Response | dict[str, Any]:
    """The station's tank reconciliations of one kind of period (newest first); with ``key`` one period's
    report, as JSON, Excel or PDF. At head office: the copies the station servers sent (without the deliveries
    found in the gauge's data, which stay at the station)."""
    if key is None:
        if format != "json":
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                                "下载报表请指定日期或班次号 key (a file needs key: the day or the shift number)")
        async with db.connection() as conn:
            items = await views.reconciliations(conn, station, period, day_from=day_from, day_to=day_to)
        return {"items": items, "next_cursor": None, "total": len(items)}
    async with db.connection() as conn:
        report = await views.report(conn, station, period, key)
    if report is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"{key} 尚未比对，请先计算 "
                                                       "(not reconciled yet; POST to compute)")
    if format == "json":
        return report
    name = f"tank-reconciliation-{station}-{key}.{format}"
    content, media = (report_xlsx(report), XLSX) if format == "xlsx" else (report_pdf(report), "application/pdf")
    return Response(content, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})


class ReconcileBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    period: Literal["shift", "day"]
    key: Annotated[str, Field(min_length=1, max_length=64, description="YYYY-MM-DD 或班次号")]


@router.post("/stations/{station}/tank-reconciliation", response_model=None)
async def compute(station: Station, body: ReconcileBody, request: Request, db: Db,
                  who: Writer) -> dict[str, Any] | Response:
    """Compute (or recompute) one period now; the same figures replace the old ones."""
    if body.period == "day":
        try:
            day = date.fromisoformat(body.key)
        except ValueError:
            return _refused(InventoryError("key", "日期格式应为 YYYY-MM-DD (a day is YYYY-MM-DD)"))
        command: Any = ReconcileDay(station, day)
    else:
        command = ReconcileShift(station, body.key)
    try:
        await _handle(request, db, who, command)
    except InventoryError as exc:
        return _refused(exc)
    async with db.connection() as conn:
        report = await views.report(conn, station, body.period, body.key)
    return report or {"station": station, "period": body.period, "period_key": body.key, "tanks": [],
                      "deliveries": []}


class NoteBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note_no: Annotated[str, Field(min_length=1, max_length=64, description="卸车单号")]
    tank: Annotated[int, Field(ge=1, le=99)]
    supplier: Annotated[str, Field(min_length=1, max_length=100, description="供应商")]
    carrier: Annotated[str, Field(min_length=1, max_length=100, description="承运商")]
    vehicle: Annotated[str, Field(max_length=20, description="油罐车车牌")] = ""
    arrived_at: LocalTime
    invoiced_l_20: Annotated[float | None, Field(gt=0, le=100_000, description="标准体积（20 °C）")] = None
    invoiced_l_observed: Annotated[float | None, Field(gt=0, le=100_000, description="视体积")] = None
    observed_temperature_c: Annotated[float | None, Field(ge=-40, le=80, description="视温度")] = None
    density_20: Annotated[float | None, Field(ge=600, le=1100, description="标准密度 kg/m³")] = None


@router.get("/stations/{station}/deliveries")
async def deliveries(station: Station, db: Db, who: Reader,
                     start: Annotated[datetime | None, Query(alias="from")] = None,
                     end: Annotated[datetime | None, Query(alias="to")] = None) -> dict[str, Any]:
    """Delivery notes, newest first, each with what the gauge received and the road loss once matched."""
    async with db.connection() as conn:
        items = await views.deliveries(conn, station, start, end)
    return {"items": items, "next_cursor": None, "total": len(items)}


@router.post("/stations/{station}/deliveries", status_code=status.HTTP_201_CREATED)
async def record_note(station: Station, body: NoteBody, request: Request, db: Db, who: Writer) -> Response:
    """Record a delivery note (卸车记录); the next reconciliation matches it to the gauge's delivery."""
    try:
        command = RecordDeliveryNote(station, body.note_no, body.tank, body.supplier, body.carrier, body.vehicle,
                                     body.arrived_at, body.invoiced_l_20, body.invoiced_l_observed,
                                     body.observed_temperature_c, body.density_20)
        return _created(await _handle(request, db, who, command), {"note_no": body.note_no})
    except InventoryError as exc:
        return _refused(exc)


class DipBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tank: Annotated[int, Field(ge=1, le=99)]
    dipped_at: LocalTime
    level_mm: Annotated[float, Field(ge=0, le=5000, description="油高")]
    water_mm: Annotated[float, Field(ge=0, le=5000, description="水高")] = 0
    volume_l: Annotated[float, Field(ge=0, le=200_000, description="按容积表查得的体积")]
    temperature_c: Annotated[float, Field(ge=-40, le=80, description="油温")]


@router.get("/stations/{station}/tank-dips")
async def dips(station: Station, db: Db, who: Reader) -> dict[str, Any]:
    async with db.connection() as conn:
        items = await views.dips(conn, station)
    return {"items": items, "next_cursor": None, "total": len(items)}


@router.post("/stations/{station}/tank-dips", status_code=status.HTTP_201_CREATED)
async def record_dip(station: Station, body: DipBody, request: Request, db: Db, who: Writer) -> Response:
    """Record a manual dip (人工量油), the fourth figure of the ARTS settlement."""
    try:
        command = RecordDip(station, body.tank, body.dipped_at, body.level_mm, body.water_mm, body.volume_l,
                            body.temperature_c)
        return _created(await _handle(request, db, who, command), {"tank": body.tank, "dipped_at": body.dipped_at})
    except InventoryError as exc:
        return _refused(exc)


class MovementBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reference: Annotated[str, Field(min_length=1, max_length=64, description="单号")]
    tank: Annotated[int, Field(ge=1, le=99)]
    kind: Literal["transfer_in", "transfer_out", "pump_test"]
    litres: Annotated[float, Field(gt=0, le=100_000)]
    at: LocalTime


@router.post("/stations/{station}/tank-movements", status_code=status.HTTP_201_CREATED)
async def record_movement(station: Station, body: MovementBody, request: Request, db: Db, who: Writer) -> Response:
    """Record a transfer between tanks (倒罐) or a pump test poured back (回罐)."""
    try:
        command = RecordMovement(station, body.tank, body.kind, body.litres, body.at, body.reference)
        return _created(await _handle(request, db, who, command), {"reference": body.reference})
    except InventoryError as exc:
        return _refused(exc)


@router.get("/stations/{station}/inventory-conditions")
async def conditions(station: Station, db: Db, who: Reader) -> dict[str, Any]:
    """The station's wet-stock alarm conditions (station and road loss), newest change first."""
    async with db.connection() as conn:
        items = await views.conditions(conn, station)
    return {"items": items, "next_cursor": None, "total": len(items)}


class ToleranceBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    station_loss_pct: Annotated[float, Field(gt=0, le=5, description="站耗允许率 %")]
    station_loss_min_l: Annotated[float, Field(ge=0, le=1000, description="站耗最小允许量 L")]
    road_loss_pct: Annotated[float, Field(gt=0, le=5, description="路耗允许率 %")]


@router.get("/inventory/tolerances")
async def tolerances(db: Db, who: TolReader) -> dict[str, Any]:
    async with db.connection() as conn:
        items = await views.tolerances(conn)
    return {"items": items, "next_cursor": None, "total": len(items)}


@router.put("/inventory/tolerances/{grade}/{season}", response_model=None)
async def set_tolerance(grade: str, season: Literal["summer", "winter"], body: ToleranceBody, request: Request,
                        db: Db, who: Configurer) -> dict[str, Any] | Response:
    """Set a grade's loss tolerances for a season (夏秋季 summer = Apr–Sep, 春冬季 winter); audited."""
    if grade not in LIQUID_GRADES:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"没有液体油品 {grade}；可选 {', '.join(LIQUID_GRADES)} "
                                                       "(no such liquid grade)")
    try:
        command = SetTolerance(Tolerance(grade, season, body.station_loss_pct, body.station_loss_min_l,
                                         body.road_loss_pct))
        changed = await _handle(request, db, who, command)
    except InventoryError as exc:
        return _refused(exc)
    return {"grade": grade, "season": season, **body.model_dump(), "changed": changed}
