"""The daily leak test: every tank (group) with daily reconciliation, its last ``WINDOW_DAYS`` days through SIR.

Registered in ``business_services/jobs`` (``JOBS``) at 02:40 China time, after the business day closed. A tank
with fewer than 30 days is skipped (nothing stored: the API shows how many days there are). Each tank's verdict
is stored once per last day (a re-run or a second worker stores nothing new; a day recomputed by the
reconciliation since changes the stored verdict). The statistics run in a thread, off the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import date, datetime, timedelta
from typing import Any

import psycopg

from business_services.inventory import leak_repository as repository
from business_services.inventory.leak import MIN_DAYS, detect_leak
from business_services.numbers import STATION_ZONE

log = logging.getLogger(__name__)
TASK = "run_leak_tests"
CRON = "40 18 * * *"            # 02:40 China time


def yesterday(now: datetime) -> date:
    """The last closed business day at ``now`` (the station's zone)."""
    return now.astimezone(STATION_ZONE).date() - timedelta(days=1)


async def run_leak_tests(conn: psycopg.AsyncConnection[Any], now: datetime | None = None) -> int:
    """Run SIR for every tank up to yesterday; returns the verdicts stored now."""
    until = yesterday(now or datetime.now(STATION_ZONE))
    since = until - timedelta(days=repository.WINDOW_DAYS - 1)
    stored = 0
    for station, tank in await repository.tanks_with_days(conn, since, until):
        records = await repository.daily_records(conn, station, tank, since, until)
        if len(records) < MIN_DAYS:
            continue
        result = await asyncio.to_thread(detect_leak, records)
        if await repository.save(conn, station, tank, result):
            stored += 1
            log.info("leak test %s tank %d: %s (%.2f L/h, MDLR %.2f)", station, tank, result.verdict,
                     result.leak_rate_l_h, result.mdlr_l_h)
    return stored
