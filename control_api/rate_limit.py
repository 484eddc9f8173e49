"""Rate limits of the open API: a token bucket per caller, kept in PostgreSQL.

Each caller (an API key, or a portal user) has a bucket of ``per_minute`` tokens that refills evenly (one token
every ``60 / per_minute`` seconds); a request takes one, and a request finding less than one is answered 429
with ``Retry-After`` (whole seconds until a token is back). The bucket is a row of ``business.fleet_api_buckets``
read and written under its row lock, so every API process of the installation shares it: with several
processes behind a load balancer the limit is still ``per_minute`` per key, not per process (the cost is one
short transaction per request). ``take`` is the rule, pure; ``check`` applies it to the stored bucket.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import cast

import psycopg
from fastapi import HTTPException, status


@dataclass(frozen=True, slots=True)
class Taken:
    allowed: bool
    tokens: float            # left in the bucket
    retry_after_s: int       # 0 when allowed


def take(tokens: float, elapsed_s: float, per_minute: int) -> Taken:
    """One request against a bucket that held ``tokens`` ``elapsed_s`` seconds ago."""
    rate = per_minute / 60.0
    now = min(float(per_minute), tokens + max(0.0, elapsed_s) * rate)
    if now >= 1.0:
        return Taken(True, now - 1.0, 0)
    return Taken(False, now, max(1, math.ceil((1.0 - now) / rate - 1e-9)))   # 1e-9: float noise


class RateLimited(HTTPException):
    def __init__(self, retry_after_s: int, per_minute: int) -> None:
        super().__init__(status.HTTP_429_TOO_MANY_REQUESTS,
                         f"请求过于频繁：每分钟最多 {per_minute} 次，请 {retry_after_s} 秒后重试 "
                         f"(too many requests: at most {per_minute} a minute; retry in {retry_after_s} s)",
                         headers={"Retry-After": str(retry_after_s)})


async def check(conn: psycopg.AsyncConnection, caller: str, per_minute: int) -> None:
    """Take a token of ``caller``'s bucket, or raise ``RateLimited``. Runs in a transaction of its own."""
    async with conn.transaction():
        # a new caller's bucket starts full; the upsert locks the row either way, until this transaction ends
        cur = await conn.execute(
            "INSERT INTO business.fleet_api_buckets AS b (caller, tokens, at) VALUES (%s, %s, clock_timestamp()) "
            "ON CONFLICT (caller) DO UPDATE SET caller = b.caller RETURNING b.tokens, b.at, clock_timestamp()",
            (caller, float(per_minute)))
        tokens, then, now = cast(tuple[float, datetime, datetime], await cur.fetchone())
        taken = take(float(tokens), (now - then).total_seconds(), per_minute)
        await conn.execute("UPDATE business.fleet_api_buckets SET tokens = %s, at = %s WHERE caller = %s",
                           (taken.tokens, now, caller))
    if not taken.allowed:
        raise RateLimited(taken.retry_after_s, per_minute)
