"""The member list's change feed at head office, for station servers (``telemetry/contracts/members.py``).

``GET /api/v1/stations/{station}/member-list?after=<seq>&limit=`` answers the changes after ``after`` (the
newest of each key only) as a ``ListPage``; asking records how far the station holds the list. It needs
``payment:online`` (a station server's API key carries it) and the station in the caller's scope, so a
station server reads only its own station's list. Data: ``business_services/member_list/repository.page``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from business_services.member_list import repository
from control_api.deps import Db, Station
from control_api.security import Principal, at_station
from telemetry.contracts.members import ListPage

router = APIRouter(prefix="/api/v1/stations/{station}", tags=["member-list"])

StationServer = Annotated[Principal, Depends(at_station("payment:online"))]


@router.get("/member-list", response_model=ListPage)
async def member_list(station: Station, who: StationServer, db: Db,
                      after: Annotated[int, Query(ge=0, le=2**63 - 1, description="已持有的最大序号 "
                                                  "(the highest seq the station holds; 0: the whole list)")] = 0,
                      limit: Annotated[int, Query(ge=1, le=repository.PAGE_LIMIT)] = repository.PAGE_LIMIT,
                      ) -> ListPage:
    """The changes after ``after``; ``more`` when another page follows (ask again with ``next_after``)."""
    async with db.connection() as conn, conn.transaction():
        return await repository.page(conn, station, after, limit)
