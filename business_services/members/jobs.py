"""The members context's scheduled jobs (business_services/jobs ``JOBS``): the lifecycle from RFM and the rule
tags every night, the level review once a year (checked daily, done at the year's first run). Each works in the
transaction it is given and returns the rows it changed; on a station server there are no members and each does
nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from business_services.members import repository
from business_services.members.handlers import relist
from business_services.members.model import Rfm, lifecycle, review

LIFECYCLE_CRON = "40 18 * * *"       # 02:40 China time
RULE_TAGS_CRON = "50 18 * * *"       # 02:50 China time, after the lifecycle
REVIEW_CRON = "0 17 * * *"           # daily 01:00 China time; reviews once a year (the first run of the year)
CHINA = ZoneInfo("Asia/Shanghai")


async def refresh_lifecycles(conn: psycopg.AsyncConnection[Any], now: datetime | None = None) -> int:
    """Every member's RFM and lifecycle stage (new, active, dormant, lost); how many changed stage."""
    now = now or datetime.now(UTC)
    changed = 0
    for row in await repository.rfm_of_all(conn, now):
        rfm = Rfm(row["registered_at"], row["last_order_at"], int(row["orders_90d"]), int(row["amount_90d_fen"]))
        changed += await repository.set_rfm(conn, row["member_no"], lifecycle(rfm, now).value, rfm.recency_days(now),
                                            rfm.orders_90d, rfm.amount_90d_fen)
    return changed


async def apply_rule_tags(conn: psycopg.AsyncConnection[Any], now: datetime | None = None) -> int:
    """Every rule tag given to the members it now holds for and taken from the others; links changed."""
    now = now or datetime.now(UTC)
    return sum([await repository.apply_rule_tag(conn, tag_id, rule, now)
                for tag_id, rule in await repository.rule_tags(conn)])


async def review_levels(conn: psycopg.AsyncConnection[Any], now: datetime | None = None) -> int:
    """The yearly review, at the first run of each year (China time): each member to the level its last 365 days'
    growth earns (a downgrade happens only here); members whose level changed (0 when this year's is done)."""
    now = now or datetime.now(UTC)
    if not await repository.claim_review(conn, now.astimezone(CHINA).year):
        return 0
    levels = await repository.levels(conn)
    changed = 0
    for member_no, held, year_growth in await repository.year_growth_of_all(conn, now):
        earned = review(levels, held, year_growth)
        if earned is not None:
            await repository.set_level(conn, member_no, held, earned.code, "review")
            await relist(conn, member_no)
            changed += 1
    await repository.reviewed(conn, now.astimezone(CHINA).year, changed)
    return changed
