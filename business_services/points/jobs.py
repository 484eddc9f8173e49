"""The daily points job: what is left of every lot past its expiry date expires (docs/points.md "Expiry")."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg

from business_services.points import lots

TASK = "expire_points"
CRON = "5 16 * * *"        # 00:05 China time, just after a year's lots expire at midnight


async def expire_points(conn: psycopg.AsyncConnection[Any]) -> int:
    """Points expired now (each lot once, however many runs at once)."""
    return await lots.expire_due(conn, datetime.now(UTC))
