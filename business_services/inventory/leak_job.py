"""The daily leak test: every tank (group) with daily reconciliation, its last ``WINDOW_DAYS`` days through SIR.

Registered in ``business_services/jobs`` (``JOBS``) at 02:40 China time, after the business day closed. A tank
with fewer than 30 days is skipped (nothing stored: the API shows how many days there are). Each tank's verdict
is stored once per last day (a re-run or a second worker stores nothing new; a day recomputed by the
reconciliation since changes the stored verdict). The statistics run in a thread, off the event loop. Where the
reconciliation is computed (the station server: the stations whose shifts this database holds), a changed verdict
raises the alarm condition ``inventory.leak_test`` of ``tank-{n}`` on a fail and clears it otherwise, through the
reconciliation's own seam to the alarm engine (``inventory.repository.signal``), in the same transaction.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import date, datetime, timedelta
from typing import Any

import psycopg

from business_services.inventory import leak_repository as repository
from business_services.inventory import repository as inventory
from business_services.inventory import sources
from business_services.inventory.leak import MIN_DAYS, LeakTest, Verdict, detect_leak
from business_services.inventory.model import Condition
from business_services.numbers import STATION_ZONE

log = logging.getLogger(__name__)
TASK = "run_leak_tests"
ALARM_RULE = "inventory.leak_test"      # config/alarm-rules.yaml: kind condition, raised on a fail
CRON = "40 18 * * *"            # 02:40 China time


def yesterday(now: datetime) -> date:
    """The last closed business day at ``now`` (the station's zone)."""
    return now.astimezone(STATION_ZONE).date() - timedelta(days=1)


async def run_leak_tests(conn: psycopg.AsyncConnection[Any], now: datetime | None = None) -> int:
    """Run SIR for every tank up to yesterday; returns the verdicts stored now."""
    until = yesterday(now or datetime.now(STATION_ZONE))
    since = until - timedelta(days=repository.WINDOW_DAYS - 1)
    stored = 0
    owned = set(await sources.stations_with_shifts(conn))     # where the reconciliation is computed
    for station, tank in await repository.tanks_with_days(conn, since, until):
        records = await repository.daily_records(conn, station, tank, since, until)
        if len(records) < MIN_DAYS:
            continue
        result = await asyncio.to_thread(detect_leak, records)
        if await repository.save(conn, station, tank, result):
            stored += 1
            if station in owned:
                await inventory.signal(conn, leak_condition(station, tank, result))
            log.info("leak test %s tank %d: %s (%.2f L/h, MDLR %.2f)", station, tank, result.verdict,
                     result.leak_rate_l_h, result.mdlr_l_h)
    return stored


def leak_condition(station: str, tank: int, result: LeakTest) -> Condition:
    """The alarm condition of a tank's latest verdict: active on a fail, cleared otherwise."""
    return Condition(station, ALARM_RULE, f"tank-{tank}", result.verdict is Verdict.FAIL, result.leak_rate_l_h,
                     result.threshold_l_h,
                     f"{tank} 号罐统计法渗漏检测 {result.verdict_zh}: 渗漏率 {result.leak_rate_l_h:.2f} L/h, "
                     f"阈值 {result.threshold_l_h:.2f} L/h ({result.first_day} — {result.last_day})")
