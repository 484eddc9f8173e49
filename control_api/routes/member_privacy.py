"""A member's personal data on the member's own request (PIPL, docs/members.md): export everything head office
keeps about one member (Excel or JSON), and erase it (anonymised; the member number and money history stay).
Both need ``member:privacy``, take the member routes' refusals and are audited by their handlers. Head office only.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from business_services.members import personal_data
from business_services.members.model import EraseMember, ExportPersonalData, MemberError, MemberNotFound
from business_services.unit_of_work import UnitOfWork
from control_api.deps import Db
from control_api.idempotency import IdempotencyKey, once
from control_api.routes.members import MemberNoPath, head_office, jsonable, refused
from control_api.security import Principal, require
from telemetry.contracts.identifiers import PLAIN_TEXT as PLAIN

router = APIRouter(prefix="/api/v1", tags=["members"], dependencies=[Depends(head_office)])
Privacy = Annotated[Principal, Depends(require("member:privacy"))]


class Erasure(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[str, Field(min_length=1, max_length=200, pattern=PLAIN,
                                 description="依据，如 会员本人书面申请 2026-12-05")]


class Erased(BaseModel):
    member_no: str
    erased: bool          # false: erased already (nothing changed)




# --- PIPL: one member's personal data, and its erasure -----------------------------------------------------------

@router.get("/members/{member_no}/personal-data")
async def export_personal_data(member_no: MemberNoPath, request: Request, db: Db, who: Privacy,
                               format_: Annotated[Literal["xlsx", "json"], Query(alias="format")] = "xlsx",
                               ) -> Response:
    """Everything head office keeps about the member, for the member's own request (audited): an Excel workbook
    (one sheet per section) or JSON."""
    try:
        async with db.connection() as conn, UnitOfWork(conn, who.actor) as uow:
            data = await request.app.state.bus.handle(ExportPersonalData(member_no, format_), uow)
    except (MemberError, MemberNotFound) as exc:
        return refused(exc)
    filename = f"member-{member_no}-personal-data.{format_}"
    headers = {"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"}
    if format_ == "json":
        return Response(json.dumps(data, ensure_ascii=False, default=jsonable, indent=1),
                        media_type="application/json", headers=headers)
    return Response(personal_data.workbook(data), headers=headers,
                    media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


@router.post("/members/{member_no}/erasure", response_model=Erased)
async def erase(member_no: MemberNoPath, body: Erasure, request: Request, db: Db, who: Privacy,
                key: IdempotencyKey) -> Any:
    """Anonymise the member (phone, name, birthday, ID, vehicles); its number, orders, growth and money history
    stay. Unlisted from the member list and from the stations' lists. Audited."""
    async def work() -> Erased:
        async with db.connection() as conn, UnitOfWork(conn, who.actor) as uow:
            done = await request.app.state.bus.handle(EraseMember(member_no, body.reason.strip()), uow)
        return Erased(member_no=member_no, erased=done)
    try:
        return await once(request, db, who, key, work)
    except (MemberError, MemberNotFound) as exc:
        return refused(exc)


