"""Maintenance work orders (维修工单): open one (by hand, or from a high-priority alarm in the alarm console),
list them, move one through open → in_progress → done.

Reads need ``workorder:read``, writes ``workorder:write``; every route respects the caller's stations (a work
order of another station is 403 to read or change, and a list shows only the caller's stations). Opening takes
an ``Idempotency-Key`` (a retry returns the first order); opening from an alarm that already has an order not
done returns that order (200 instead of 201). Every change is audited. docs/alarm-console.md.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from business_services.equipment import views
from business_services.equipment.model import (
    ChangeWorkOrderStatus,
    OpenWorkOrder,
    Status,
    WorkOrderConflict,
    WorkOrderError,
    WorkOrderNotFound,
)
from business_services.unit_of_work import UnitOfWork
from control_api.deps import Db, RowId
from control_api.idempotency import IdempotencyKey, once
from control_api.pagination import Cursor, Limit, after, page
from control_api.security import Principal, require
from telemetry.contracts.identifiers import Code

router = APIRouter(prefix="/api/v1/work-orders", tags=["work-orders"])
Reader = Annotated[Principal, Depends(require("workorder:read"))]
Writer = Annotated[Principal, Depends(require("workorder:write"))]


class WorkOrderPublic(BaseModel):
    id: int
    station: str
    equipment: str
    fault: str
    alarm_id: uuid.UUID | None
    status: Status
    opened_by: str
    opened_at: datetime
    assignee: str
    note: str
    updated_by: str
    updated_at: datetime
    done_at: datetime | None


class WorkOrderOpened(WorkOrderPublic):
    created: bool        # false: the alarm already had this order, not done yet


class WorkOrderPage(BaseModel):
    items: list[WorkOrderPublic]
    next_cursor: str | None
    total: int


class WorkOrderCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    station: Code
    equipment: Annotated[str, Field(max_length=64, description="设备，如 lel-02、tank-1 (the equipment)")]
    fault: Annotated[str, Field(max_length=500, description="故障描述 (the fault)")]
    alarm_id: Annotated[uuid.UUID | None, Field(description="开单的报警 (the alarm it is opened from)")] = None
    assignee: Annotated[str, Field(max_length=64, description="维修人 (who repairs it)")] = ""


class StatusChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Status
    note: Annotated[str, Field(max_length=500, description="说明 (what was done)")] = ""
    assignee: Annotated[str | None, Field(max_length=64, description="维修人；不填则不变")] = None


def _refused(exc: WorkOrderError) -> JSONResponse:
    code = status.HTTP_409_CONFLICT if isinstance(exc, WorkOrderConflict) else status.HTTP_422_UNPROCESSABLE_CONTENT
    return JSONResponse({"detail": exc.message, "errors": [{"field": exc.field, "message": exc.message}]},
                        status_code=code)


def _not_found(work_order_id: int) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, f"没有编号为 {work_order_id} 的维修工单 "
                                                    f"(no work order {work_order_id}; check the number)")


@router.get("", response_model=WorkOrderPage)
async def list_work_orders(who: Reader, db: Db, cursor: Cursor = "", limit: Limit = 20,
                           station: Annotated[str, Query(max_length=64)] = "",
                           status_: Annotated[Status | None, Query(alias="status")] = None,
                           alarm_id: uuid.UUID | None = None,
                           q: Annotated[str, Query(max_length=64, description="设备、故障或维修人中的文字")] = "",
                           ) -> dict[str, Any]:
    """Newest first; only the caller's stations."""
    if station:
        who.check_station(station)
    async with db.connection() as conn:
        rows, total, last = await views.work_orders(
            conn, station=station, status=status_.value if status_ else "", q=q, alarm_id=alarm_id,
            scope=who.stations, limit=limit, after=after(cursor, views.NEWEST_FIRST))
    return page([WorkOrderPublic.model_validate(r) for r in rows], total, views.NEWEST_FIRST, last)


@router.post("", response_model=WorkOrderOpened)
async def open_work_order(body: WorkOrderCreate, request: Request, db: Db, who: Writer,
                          key: IdempotencyKey) -> Any:
    """Open a work order (``created``: true); from an alarm that already has one not done, that one (false)."""
    who.check_station(body.station)
    try:
        command = OpenWorkOrder(body.station, body.equipment, body.fault, who.username, datetime.now(UTC),
                                body.alarm_id, body.assignee)
    except WorkOrderError as exc:
        return _refused(exc)

    async def work() -> WorkOrderOpened:
        async with db.connection() as conn, UnitOfWork(conn, who.actor) as uow:
            row, created = await request.app.state.bus.handle(command, uow)
        return WorkOrderOpened.model_validate({**row, "created": created})
    return await once(request, db, who, key, work)


@router.get("/{work_order_id}", response_model=WorkOrderPublic)
async def get_work_order(work_order_id: RowId, who: Reader, db: Db) -> WorkOrderPublic:
    async with db.connection() as conn:
        row = await views.work_order(conn, work_order_id)
    if row is None:
        raise _not_found(work_order_id)
    who.check_station(row["station"])
    return WorkOrderPublic.model_validate(row)


@router.post("/{work_order_id}/status", response_model=WorkOrderPublic)
async def change_status(work_order_id: RowId, body: StatusChange, request: Request, db: Db, who: Writer) -> Any:
    """Move the order on (open → in_progress → done); the same status again changes nothing. 409 for a move
    back (a done order stays done)."""
    async with db.connection() as conn:
        row = await views.work_order(conn, work_order_id)
        if row is None:
            raise _not_found(work_order_id)
        who.check_station(row["station"])
        try:
            command = ChangeWorkOrderStatus(work_order_id, body.status, who.username, datetime.now(UTC),
                                            body.note.strip(), body.assignee)
            async with UnitOfWork(conn, who.actor) as uow:
                changed = await request.app.state.bus.handle(command, uow)
        except WorkOrderError as exc:
            return _refused(exc)
        except WorkOrderNotFound as exc:
            raise _not_found(work_order_id) from exc
    return WorkOrderPublic.model_validate(changed)
