"""What points need of members: a member's level (its code), for the level multiplier of the earning rules.

The members context (``business_services/members``) owns levels; until its views offer a member's level this
answers None (no level multiplier applies). One place to wire it.
"""

from __future__ import annotations

import psycopg


async def level_of(conn: psycopg.AsyncConnection, member_no: str) -> str | None:
    """The member's level code, or None when unknown."""
    return None
