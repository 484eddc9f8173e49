"""Shifts and handover at the station server (交接班): open, live totals, handover, reports and history.

(``GET …/shifts`` is the station's shift definitions, master data: the history is ``GET …/shifts/history``.)

Reads need ``shift:read``, open and handover ``shift:write`` (cashier, station manager); closing a shift that
has unpaid orders needs ``shift:override`` and a reason (audited). Every route checks the caller's station
scope before reading the body. Open and handover take an ``Idempotency-Key``: a retried handover returns
the first report and counts the cash once. docs/shifts.md.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response, status
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field, RootModel

from business_services.shifts import views
from business_services.shifts.model import (
    DEFAULT_CASH_TOLERANCE_FEN,
    CloseShift,
    NozzleKey,
    OpenShift,
    Reading,
    ShiftConflict,
    ShiftNotFound,
    ShiftRuleError,
)
from business_services.shifts.report_files import report_html, report_pdf, report_xlsx
from business_services.unit_of_work import UnitOfWork
from control_api.deps import Db, Station
from control_api.idempotency import IdempotencyKey, once
from control_api.pagination import Cursor, Limit, after, page
from control_api.security import Principal, at_station
from telemetry.queries import station_latest

router = APIRouter(prefix="/api/v1/stations/{station}/shifts", tags=["shifts"])

ShiftNo = Annotated[str, Path(min_length=6, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
                              description="班次号 shift number, e.g. demo-01-20261204-S00001")]
TOTALIZER = re.compile(r"fp(\d+)/nozzle(\d+)/volume_total")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


Reader = Annotated[Principal, Depends(at_station("shift:read"))]
Writer = Annotated[Principal, Depends(at_station("shift:write"))]


class NozzleReading(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pump: Annotated[str, Field(min_length=1, max_length=32)]
    fuelling_point: Annotated[int, Field(ge=1, le=4)]
    nozzle: Annotated[int, Field(ge=1, le=4)]
    litres: Annotated[Decimal, Field(ge=0, max_digits=16, decimal_places=2, description="泵码 totalizer, L")]

    def reading(self) -> Reading:
        return Reading(NozzleKey(self.pump, self.fuelling_point, self.nozzle), self.litres)


class OpenBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hand_readings: Annotated[list[NozzleReading], Field(max_length=64,
                                                        description="手工录入的起始泵码 (start readings by hand)")] = []


class CashPieces(BaseModel):
    model_config = ConfigDict(extra="forbid")

    denomination_fen: Annotated[int, Field(description="面额（分）：10000, 5000, 2000, 1000, 500, 100, 50, 10")]
    pieces: Annotated[int, Field(ge=0, le=100_000)]


class HandoverBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    end_readings: Annotated[list[NozzleReading], Field(max_length=64, description="交班泵码 (end readings)")]
    cash_count: Annotated[list[CashPieces], Field(max_length=20, description="现金清点 (the cash count)")]
    explanation: Annotated[str, Field(max_length=200, description="长短款说明 (why the cash differs)")] = ""
    override_reason: Annotated[str, Field(max_length=200, description="有未付订单时强制交班的原因 (站长)")] = ""


class Opened(BaseModel):
    shift_no: str


class Report(RootModel[dict[str, Any]]):
    pass


def _at_station(request: Request, command: object) -> None:
    """Shifts are kept by the station server (forecourt/roles.py); head office holds what it is sent."""
    if not request.app.state.bus.handles(command):
        raise HTTPException(status.HTTP_409_CONFLICT, "班次在站级服务器上开班和交班 "
                                                      "(shifts are opened and handed over at the station server)")


async def live_totalizers(conn: Any, station: str) -> tuple[Reading, ...]:
    """Each nozzle's totalizer as the station server's own ingest holds it (``fp{n}/nozzle{m}/volume_total``),
    good values of devices online and current only: the start of a nozzle that has not sold at this station yet."""
    readings = []
    for device in await station_latest(conn, station):
        if device.online is False or device.stale:
            continue
        for value in device.values:
            found = TOTALIZER.fullmatch(value.name)
            if found and value.quality == "good" and isinstance(value.value, int | float):
                key = NozzleKey(device.device, int(found[1]), int(found[2]))
                readings.append(Reading(key, Decimal(str(value.value)).quantize(Decimal("0.01"))))
    return tuple(readings)


def _refused(exc: ShiftRuleError) -> HTTPException:
    code = status.HTTP_409_CONFLICT if isinstance(exc, ShiftConflict) else status.HTTP_422_UNPROCESSABLE_CONTENT
    return HTTPException(code, exc.message)


@router.post("", response_model=Opened)
async def open_shift(station: Station, body: OpenBody, request: Request, db: Db, who: Writer,
                     key: IdempotencyKey) -> Response:
    """Open a shift; the caller is the person in charge. 409 while another is open."""
    async def work() -> Opened:
        command = OpenShift(station, who.username, datetime.now(UTC), tuple(r.reading() for r in body.hand_readings))
        _at_station(request, command)
        try:
            async with db.connection() as conn:
                command = replace(command, live_readings=await live_totalizers(conn, station))
                async with UnitOfWork(conn, who.actor) as uow:
                    return Opened(shift_no=await request.app.state.bus.handle(command, uow))
        except ShiftRuleError as exc:
            raise _refused(exc) from exc
    return await once(request, db, who, key, work)


@router.get("/current")
async def current(station: Station, db: Db, who: Reader,
                  masked: Annotated[bool, Query(description="收银屏隐藏金额 (hide the takings as ******)")] = False,
                  ) -> dict[str, Any]:
    """The open shift with live totals; 404 when none is open."""
    async with db.connection() as conn:
        shift_no = await views.open_shift(conn, station)
        report = None if shift_no is None else await views.report(conn, station, shift_no, datetime.now(UTC))
    if report is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "本站当前没有班次，请先开班 (no shift is open; open one)")
    if masked:
        report |= {"takings": [{"method": t["method"], "method_name": t["method_name"]} for t in report["takings"]],
                   "takings_fen": None}
    return report | {"masked": masked}


@router.post("/{shift_no}/handover", response_model=Report)
async def handover(station: Station, shift_no: ShiftNo, body: HandoverBody, request: Request, db: Db, who: Writer,
                   key: IdempotencyKey) -> Response:
    """Close the shift with its end readings and cash count; 409 listing unpaid orders unless overridden."""
    if body.override_reason.strip() and not who.may("shift:override"):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "有未付订单时强制交班需站长权限 shift:override "
                                                       "(closing over unpaid orders needs shift:override)")
    tolerance = int(getattr(request.app.state, "cash_tolerance_fen", DEFAULT_CASH_TOLERANCE_FEN))

    async def work() -> Report:
        command = CloseShift(station, shift_no, who.username, datetime.now(UTC),
                             tuple(r.reading() for r in body.end_readings),
                             tuple((c.denomination_fen, c.pieces) for c in body.cash_count),
                             body.explanation, body.override_reason, tolerance)
        _at_station(request, command)
        try:
            async with db.connection() as conn, UnitOfWork(conn, who.actor) as uow:
                return Report(await request.app.state.bus.handle(command, uow))
        except ShiftNotFound as exc:
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
        except ShiftRuleError as exc:
            raise _refused(exc) from exc
    return await once(request, db, who, key, work)


@router.get("/history")
async def history(station: Station, db: Db, who: Reader, cursor: Cursor = "", limit: Limit = 20,
                  day_from: Annotated[date | None, Query(description="开班日期起 (station-local day)")] = None,
                  day_to: Annotated[date | None, Query(description="开班日期止 (inclusive)")] = None,
                  person: Annotated[str, Query(max_length=64, description="负责人或交班人 (username)")] = "",
                  ) -> dict[str, Any]:
    """The station's shifts, newest first."""
    async with db.connection() as conn:
        items, total, last = await views.history(conn, station, day_from=day_from, day_to=day_to, person=person,
                                                 after=after(cursor, views.NEWEST_FIRST), limit=limit)
    return page(items, total, views.NEWEST_FIRST, last)


async def _report(db: Db, station: str, shift_no: str) -> dict[str, Any]:
    async with db.connection() as conn:
        report = await views.report(conn, station, shift_no, datetime.now(UTC))
    if report is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"本站没有班次 {shift_no} (no shift {shift_no} here)")
    return report


@router.get("/{shift_no}")
async def shift_report(station: Station, shift_no: ShiftNo, db: Db, who: Reader) -> dict[str, Any]:
    """The handover report (frozen at close; live while the shift is open)."""
    return await _report(db, station, shift_no)


@router.get("/{shift_no}/report.xlsx", response_class=Response, responses={200: {"content": {XLSX: {}}}})
async def shift_xlsx(station: Station, shift_no: ShiftNo, db: Db, who: Reader) -> Response:
    content = report_xlsx(await _report(db, station, shift_no))
    return Response(content, media_type=XLSX,
                    headers={"Content-Disposition": f'attachment; filename="{shift_no}.xlsx"'})


@router.get("/{shift_no}/report.pdf", response_class=Response,
            responses={200: {"content": {"application/pdf": {}}}})
async def shift_pdf(station: Station, shift_no: ShiftNo, db: Db, who: Reader) -> Response:
    content = report_pdf(await _report(db, station, shift_no))
    return Response(content, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{shift_no}.pdf"'})


@router.get("/{shift_no}/report.html", response_class=HTMLResponse)
async def shift_html(station: Station, shift_no: ShiftNo, db: Db, who: Reader) -> HTMLResponse:
    """A printable page of the report."""
    return HTMLResponse(report_html(await _report(db, station, shift_no)))

