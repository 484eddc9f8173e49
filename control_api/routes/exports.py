"""Excel exports of a list's filtered rows: start a job, watch its progress, fetch the file (owner only).

``POST /api/v1/exports`` needs ``export:create`` and the read permission of the list (e.g. ``audit:read``);
the caller's station scope applies to the rows. Send a ``request_id`` of your own: a retried POST with the
same one returns the same job instead of starting another.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, cast
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, ValidationError

from business_services.audit.model import AuditEntry
from business_services.exports import repository
from business_services.exports.kinds import KINDS
from business_services.exports.runner import ExportRunner
from business_services.unit_of_work import UnitOfWork
from control_api.deps import Db
from control_api.security import Principal, require

router = APIRouter(prefix="/api/v1/exports", tags=["exports"])
Exporter = Annotated[Principal, Depends(require("export:create"))]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class ExportCreate(BaseModel):
    kind: str = Field(description="which list, e.g. audit")
    filters: dict[str, Any] = Field(default_factory=dict, description="the list's filters, as its GET takes them")
    request_id: str | None = Field(None, max_length=100, description="your id of this request, for safe retries")


class ExportStarted(BaseModel):
    id: uuid.UUID


class ExportPublic(BaseModel):
    id: uuid.UUID
    kind: str
    status: str            # running | done | failed
    done: int
    total: int | None
    error: str | None
    created: datetime
    size: int | None


def _not_found() -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, "没有这个导出任务 (no such export job)")


@router.post("", status_code=status.HTTP_202_ACCEPTED, response_model=ExportStarted)
async def start(body: ExportCreate, who: Exporter, db: Db, request: Request) -> ExportStarted:
    kind = KINDS.get(body.kind)
    if kind is None:
        raise RequestValidationError([{"loc": ("body", "kind"), "type": "value_error", "input": body.kind,
                                       "msg": f"不能导出 {body.kind} (cannot export that; one of {', '.join(KINDS)})"}])
    if not who.may(kind.permission):
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"没有权限：{kind.permission} (you lack the permission "
                                                       f"{kind.permission}; ask an administrator)")
    try:
        filters = kind.filters.model_validate(body.filters)
    except ValidationError as exc:
        raise RequestValidationError([{**e, "loc": ("body", "filters", *e["loc"])} for e in exc.errors()]) from None
    station = getattr(filters, "station", None)
    if station is not None:
        who.check_station(station)
    async with db.connection() as conn, UnitOfWork(conn, who.actor) as uow:
        job_id, new = await repository.create(conn, who.username, kind.name, filters.model_dump(mode="json"),
                                              who.stations, body.request_id)
        if new:
            await uow.audit(AuditEntry("export.create", f"export:{job_id}", station, None,
                                       {"kind": kind.name, "filters": filters.model_dump(mode="json",
                                                                                         exclude_none=True)}))
    if new:
        cast(ExportRunner, request.app.state.exports).start(job_id, kind, filters, who.stations, who.may("pii:read"))
    return ExportStarted(id=job_id)


@router.get("/{job_id}", response_model=ExportPublic)
async def progress(job_id: uuid.UUID, who: Exporter, db: Db) -> ExportPublic:
    async with db.connection() as conn:
        job = await repository.get(conn, job_id)
    if job is None or job.owner != who.username:
        raise _not_found()
    return ExportPublic(id=job.id, kind=job.kind, status=job.status, done=job.done, total=job.total,
                        error=job.error, created=job.created, size=job.size)


@router.get("/{job_id}/file", response_class=Response, responses={200: {"content": {XLSX: {}}}})
async def download(job_id: uuid.UUID, who: Exporter, db: Db) -> Response:
    async with db.connection() as conn:
        job = await repository.get(conn, job_id)
        if job is None or job.owner != who.username:
            raise _not_found()
        if job.status != "done":
            raise HTTPException(status.HTTP_409_CONFLICT, "导出尚未完成 (the export is not finished; poll its status)")
        content = await repository.file(conn, job_id)
    if content is None:
        raise _not_found()
    name = f"{KINDS[job.kind].title if job.kind in KINDS else job.kind}-{job.created:%Y%m%d-%H%M%S}.xlsx"
    return Response(content, media_type=XLSX,
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"})
