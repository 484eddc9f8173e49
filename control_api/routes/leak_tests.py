"""Statistical leak detection (SIR) per tank: ``GET /api/v1/stations/{station}/tanks/{tank}/leak-test``.

The latest verdict (pass / fail / inconclusive by domain.md §2.3) with its leak rate and minimum detectable leak
rate, and the tank's earlier verdicts; written by the daily job (business_services/inventory/leak_job.py).
Needs ``inventory:read`` at the station (as the reconciliation it is computed from). docs/leak-detection.md.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel

from business_services.inventory import leak_repository as repository
from business_services.inventory.leak import MIN_DAYS, VERDICT_ZH, Verdict
from control_api.deps import Db, Station
from control_api.security import Principal, at_station

router = APIRouter(prefix="/api/v1/stations/{station}/tanks/{tank}/leak-test", tags=["leak-tests"])
Reader = Annotated[Principal, Depends(at_station("inventory:read"))]
TankNo = Annotated[int, Path(ge=1, le=99, description="罐号 tank number")]


class LeakTestResult(BaseModel):
    last_day: date
    first_day: date
    days: int
    verdict: Verdict
    verdict_zh: str
    leak_rate_l_h: float
    threshold_l_h: float
    mdlr_l_h: float
    target_l_h: float
    standard_error_l_h: float
    loss_per_litre_sold_pct: float
    calibrated: bool
    throughput_l: float
    computed_at: datetime


class TankLeakTests(BaseModel):
    station: str
    tank: int
    latest: LeakTestResult | None
    history: list[LeakTestResult]
    days_available: int
    days_needed: int
    message: str


@router.get("", response_model=TankLeakTests, summary="罐的统计渗漏检测 (SIR) 结果")
async def leak_test(station: Station, tank: TankNo, who: Reader, db: Db,
                    limit: Annotated[int, Query(ge=1, le=366, description="历史条数 (verdicts to list)")] = 30,
                    ) -> TankLeakTests:
    async with db.connection() as conn:
        rows = await repository.history(conn, station, tank, limit)
        available = await repository.days_available(conn, station, tank)
    results = [LeakTestResult(**row, verdict_zh=VERDICT_ZH[Verdict(row["verdict"])]) for row in rows]
    if results:
        message = results[0].verdict_zh
    else:
        message = (f"尚无检测结果：需要至少 {MIN_DAYS} 天的日对账数据，现有 {available} 天；"
                   f"每日 02:40 自动检测 (no verdict yet: {available} of {MIN_DAYS} days of daily reconciliation)")
    return TankLeakTests(station=station, tank=tank, latest=results[0] if results else None, history=results,
                         days_available=available, days_needed=MIN_DAYS, message=message)
