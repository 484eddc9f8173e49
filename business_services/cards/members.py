"""Whether a member number names a member, asked of the members context's views (contexts meet through views,
never each other's tables). A closed (erased) member takes no new card."""

from __future__ import annotations

import psycopg

from business_services.cards.model import CardError
from business_services.members import views as members


async def check_member(conn: psycopg.AsyncConnection, member_no: str | None, field: str = "member_no") -> None:
    """``CardError`` naming ``field`` when there is no such member (or it was erased)."""
    if member_no is None:
        return
    found = await members.profile(conn, member_no)
    if found is None or found.get("erased_at") is not None:
        raise CardError(field, f"没有会员 {member_no}，请核对会员号 (no member {member_no}: check the number)")
