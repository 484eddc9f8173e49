"""What points need of members: a member's level (its code and the level's points multiplier, a benefit the
members context keeps), for ``model.points_for``. The one place points read the members context.
"""

from __future__ import annotations

from decimal import Decimal

import psycopg

from business_services.members import views as members
from business_services.points.model import MemberLevel


async def level_of(conn: psycopg.AsyncConnection, member_no: str) -> MemberLevel | None:
    """The member's level, or None for a member head office does not know (or one erased)."""
    found = await members.profile(conn, member_no)
    if found is None or found["status"] == "erased":
        return None
    return MemberLevel(found["level"], Decimal(str(found["points_multiplier"])).quantize(Decimal("0.01")))


async def known(conn: psycopg.AsyncConnection, member_no: str) -> bool:
    """Whether head office has this member (and it is not erased): points may be given to it."""
    return await level_of(conn, member_no) is not None
