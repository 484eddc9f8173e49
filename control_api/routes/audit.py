"""Search the audit chain: who did what, when, from where, before and after (permission ``audit:read``).

A caller scoped to some stations sees only the records of those stations.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from business_services.audit import views
from control_api.deps import Db
from control_api.security import Principal, require

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])
Reader = Annotated[Principal, Depends(require("audit:read"))]


class AuditPublic(BaseModel):
    seq: int
    at: datetime
    actor: str
    source: str
    station: str | None
    action: str
    target: str
    before: Any
    after: Any


class AuditPage(BaseModel):
    items: list[AuditPublic]
    next_cursor: str | None
    total: int


def audit_filter(since: views.Moment | None = None, until: views.Moment | None = None,
                 actor: Annotated[str | None, Query(max_length=100, pattern=views.PLAIN)] = None,
                 action: Annotated[str | None, Query(max_length=100, pattern=views.PLAIN,
                                                     description="exact, or a prefix ending in '.'")] = None,
                 station: Annotated[str | None, Query(max_length=64, pattern=views.PLAIN)] = None,
                 target: Annotated[str | None, Query(max_length=100, pattern=views.PLAIN,
                                                     description="contains this text")] = None,
                 ) -> views.AuditFilter:
    return views.AuditFilter(since=since, until=until, actor=actor, action=action, station=station, target=target)


@router.get("", response_model=AuditPage)
async def search(who: Reader, db: Db, f: Annotated[views.AuditFilter, Depends(audit_filter)],
                 cursor: Annotated[int | None, Query(ge=1, description="next_cursor of the page before")] = None,
                 limit: Annotated[int, Query(ge=1, le=500)] = 50) -> AuditPage:
    """Newest first; ``next_cursor`` is null on the last page."""
    if f.station is not None:
        who.check_station(f.station)
    async with db.connection() as conn:
        total = await views.count(conn, f, who.stations)
        rows = await views.page(conn, f, who.stations, cursor, limit, who.may("pii:read"))
    next_cursor = str(rows[-1]["seq"]) if len(rows) == limit else None
    return AuditPage(items=[AuditPublic.model_validate(r) for r in rows], next_cursor=next_cursor, total=total)
