"""Station master data: stations, their devices, nozzles (grade changes), tanks, shifts and rota.

Reads need ``station:read``, changes ``station:write``; every route that names a station checks the caller's
scope, and the list shows only the stations in it. Each change runs one handler of
``business_services/stations/handlers.py`` through the message bus in a unit of work (audited, the list's
version one up, the list sent to the station). A station server (``FORECOURT_ROLE=station``) holds a
read-only copy: changes there are refused with 409.
Contact phones are masked for callers who may not change the station.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, status
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel, Field, ValidationError

from business_services.access.model import mask_phone
from business_services.stations import handlers, views
from business_services.stations.model import (
    Conflict,
    Device,
    MasterDataError,
    NotFound,
    Nozzle,
    ScheduleDay,
    ShiftDefinition,
    StationRecord,
    Tank,
)
from business_services.unit_of_work import UnitOfWork
from control_api.deps import Db, Station
from control_api.deps import Device as DeviceCode
from control_api.pagination import Cursor, after, page
from control_api.security import Principal, require
from edge_nodes.devices.base import DEVICE_KINDS
from edge_nodes.station import parse_station
from forecourt.roles import policy

router = APIRouter(prefix="/api/v1/stations", tags=["stations"])

Reader = Annotated[Principal, Depends(require("station:read"))]
Writer = Annotated[Principal, Depends(require("station:write"))]


def _station_writer(station: Station, who: Writer) -> Principal:
    """``station:write`` and the station in scope, checked before the body is read: 403, never a 422 first."""
    who.check_station(station)
    return who


StationWriter = Annotated[Principal, Depends(_station_writer)]
FuellingPoint = Annotated[int, Path(ge=1, le=4, description="加油点 fuelling point")]
NozzleNumber = Annotated[int, Path(ge=1, le=4, description="油枪 nozzle")]


class Contact(BaseModel):
    name: Annotated[str, Field(max_length=64)]
    phone: Annotated[str, Field(max_length=32, pattern=r"^[0-9+\- ]*$")]


class StationBody(BaseModel):
    name: Annotated[str, Field(min_length=1, max_length=100)]
    company_group: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")] = "demo-co"
    region: Annotated[str, Field(max_length=64)] = ""
    address: Annotated[str, Field(max_length=200)] = ""
    latitude: float | None = None
    longitude: float | None = None
    contacts: Annotated[list[Contact], Field(max_length=10)] = []
    opening_hours: Annotated[str, Field(max_length=11)] = ""
    photos: Annotated[list[Annotated[str, Field(max_length=500)]], Field(max_length=20)] = []
    responsible: Annotated[str, Field(max_length=64)] = ""
    timezone: Annotated[str, Field(max_length=64)] = "Asia/Shanghai"

    def record(self, code: str) -> StationRecord:
        return StationRecord(code, self.name, self.company_group, self.region, self.address, self.latitude,
                             self.longitude, tuple((c.name, c.phone) for c in self.contacts), self.opening_hours,
                             tuple(self.photos), self.responsible, self.timezone)


class StationCreate(StationBody):
    code: Annotated[str, Field(min_length=1, max_length=32)]


class DeviceBody(BaseModel):
    kind: Annotated[str, Field(max_length=32)]
    settings: dict[str, Any]        # the station file's entry without its code


class NozzleBody(BaseModel):
    grade: Annotated[str | None, Field(max_length=8, description="油品 92, 95, 98, 0, cng, lng; null: none")]


class TankBody(BaseModel):
    grade: Annotated[str, Field(max_length=8)]
    capacity_l: Annotated[float, Field(gt=0)]


def _local(value: time) -> time:
    if value.tzinfo is not None:
        raise ValueError("班次时间是站点当地时间，不带时区 (a shift time is the station's local time, without a zone)")
    return value


LocalTime = Annotated[time, AfterValidator(_local)]


class ShiftBody(BaseModel):
    name: Annotated[str, Field(min_length=1, max_length=32)]
    starts: LocalTime
    ends: LocalTime


class ScheduleBody(BaseModel):
    staff: Annotated[list[Annotated[str, Field(min_length=1, max_length=64)]], Field(max_length=50)]


class Changed(BaseModel):
    version: int                   # the station's master-data version after the request


def _masked(station: dict[str, Any], who: Principal) -> dict[str, Any]:
    if who.may("station:write"):
        return station
    return {**station, "contacts": [{**c, "phone": mask_phone(c["phone"])} for c in station["contacts"]]}


async def _run(request: Request, db: Any, who: Principal, command: Any) -> Changed | JSONResponse:
    """Run one change in a unit of work; rule errors become 422 (``errors: [{field, message}]``), 404 or 409."""
    if not policy(request.app.state.role).owns_master_data:   # a station server (forecourt/roles.py)
        raise HTTPException(status.HTTP_409_CONFLICT, "站点主数据由总部维护，请在总部后台修改 "
                                                      "(master data is kept at head office; change it there)")
    try:
        async with db.connection() as conn, UnitOfWork(conn, who.actor) as uow:
            return Changed(version=await request.app.state.bus.handle(command, uow))
    except MasterDataError as exc:
        return JSONResponse({"detail": exc.message, "errors": [{"field": exc.field, "message": exc.message}]},
                            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)
    except NotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    except Conflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc


# --- reads -----------------------------------------------------------------------------------------

@router.get("")
async def list_stations(db: Db, who: Reader, q: Annotated[str, Query(max_length=64)] = "",
                        region: Annotated[str, Query(max_length=64)] = "",
                        sort: Annotated[str, Query(pattern="^(code|-code|name|region|-version)$")] = "code",
                        cursor: Cursor = "", limit: Annotated[int, Query(ge=1, le=200)] = 50) -> dict[str, Any]:
    """Stations in the caller's scope; ``edge_version`` is the list version the station reported holding."""
    order = views.SORTS[sort]
    async with db.connection() as conn:
        found = await views.list_stations(conn, who.stations, q=q, region=region, sort=order,
                                          after=after(cursor, order), limit=limit)
    return page([asdict(r) for r in found.items], found.total, order, found.last)


@router.get("/{station}")
async def station_detail(station: Station, db: Db, who: Reader) -> dict[str, Any]:
    who.check_station(station)
    async with db.connection() as conn:
        found = await views.station_detail(conn, station)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"没有站点 {station} (no station {station})")
    return _masked(found, who)


async def _part(db: Db, station: str, who: Principal, read: Any) -> dict[str, Any]:
    who.check_station(station)
    async with db.connection() as conn:
        if await views.station_detail(conn, station) is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"没有站点 {station} (no station {station})")
        items = await read(conn, station)
    return {"items": items, "next_cursor": None, "total": len(items)}


@router.get("/{station}/devices")
async def devices(station: Station, db: Db, who: Reader) -> dict[str, Any]:
    """The station's devices as its edge node's station file has them."""
    return await _part(db, station, who, views.devices_json)


@router.get("/{station}/nozzles")
async def nozzles(station: Station, db: Db, who: Reader) -> dict[str, Any]:
    return await _part(db, station, who, views.nozzles_json)


@router.get("/{station}/tanks")
async def tanks(station: Station, db: Db, who: Reader) -> dict[str, Any]:
    return await _part(db, station, who, views.tanks_json)


@router.get("/{station}/shifts")
async def shifts(station: Station, db: Db, who: Reader) -> dict[str, Any]:
    return await _part(db, station, who, views.shifts_json)


# --- changes ---------------------------------------------------------------------------------------

@router.post("", status_code=status.HTTP_201_CREATED, response_model=Changed)
async def create_station(body: StationCreate, request: Request, db: Db, who: Writer) -> Any:
    if who.stations is not None:
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            "只有总部账号可以新建站点 (only head-office users create stations)")
    return await _run(request, db, who, handlers.CreateStation(body.record(body.code)))


@router.put("/{station}", response_model=Changed)
async def edit_station(station: Station, body: StationBody, request: Request, db: Db, who: StationWriter) -> Any:
    return await _run(request, db, who, handlers.EditStation(body.record(station)))


@router.put("/{station}/devices/{device}/settings", response_model=Changed)
async def put_device(station: Station, device: DeviceCode, body: DeviceBody, request: Request, db: Db,
                     who: StationWriter) -> Any:
    try:     # what the edge node could not run never becomes master data
        parse_station({"station": station, "devices": [{**body.settings, "code": device}]})
    except ValidationError as exc:
        problems = [{"field": ".".join(["settings", *(str(p) for p in e["loc"][2:] if p not in DEVICE_KINDS)]),
                     "message": e["msg"]} for e in exc.errors()[:10]]
        return JSONResponse({"detail": "设备参数不合规 (the device settings are not a valid station-file entry)",
                             "errors": problems}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)
    return await _run(request, db, who, handlers.PutDevice(station, Device(device, body.kind, body.settings)))


@router.put("/{station}/nozzles/{device}/{fuelling_point}/{number}", response_model=Changed)
async def put_nozzle(station: Station, device: DeviceCode, fuelling_point: FuellingPoint, number: NozzleNumber,
                     body: NozzleBody, request: Request, db: Db, who: StationWriter) -> Any:
    """Add a nozzle or change its grade; the station's edge node receives the new list."""
    return await _run(request, db, who, handlers.PutNozzle(station, Nozzle(device, fuelling_point, number, body.grade)))


@router.put("/{station}/tanks/{number}", response_model=Changed)
async def put_tank(station: Station, number: Annotated[int, Path(ge=1, le=99)], body: TankBody, request: Request,
                   db: Db, who: StationWriter) -> Any:
    return await _run(request, db, who, handlers.PutTank(station, Tank(number, body.grade, body.capacity_l)))


@router.delete("/{station}/tanks/{number}", response_model=Changed)
async def remove_tank(station: Station, number: Annotated[int, Path(ge=1, le=99)], request: Request, db: Db,
                      who: StationWriter) -> Any:
    return await _run(request, db, who, handlers.RemoveTank(station, number))


@router.put("/{station}/shifts/{code}", response_model=Changed)
async def put_shift(station: Station, code: Annotated[str, Path(max_length=32)], body: ShiftBody, request: Request,
                    db: Db, who: StationWriter) -> Any:
    shift = ShiftDefinition(code, body.name, body.starts, body.ends)
    return await _run(request, db, who, handlers.PutShift(station, shift))


@router.put("/{station}/schedule/{day}/{shift}", response_model=Changed)
async def put_schedule_day(station: Station, day: date, shift: Annotated[str, Path(max_length=32)],
                           body: ScheduleBody, request: Request, db: Db, who: StationWriter) -> Any:
    return await _run(request, db, who, handlers.PutScheduleDay(station, ScheduleDay(day, shift, tuple(body.staff))))
