"""Whether a member number names a member: asked of the members part's views (``profile``) when that part is
installed, else only the number's pattern is checked (the members part is built on its own branch; after the
merge this stays the one place cards ask, and could become a plain import). A closed (erased) member takes no
new card."""

from __future__ import annotations

import importlib
from types import ModuleType

import psycopg

from business_services.cards.model import CardError

MEMBERS = "business_services.members.views"


def _members() -> ModuleType | None:
    try:
        return importlib.import_module(MEMBERS)
    except ModuleNotFoundError as missing:
        if missing.name is not None and MEMBERS.startswith(missing.name):
            return None
        raise                                      # the part is there but something it needs is not


async def check_member(conn: psycopg.AsyncConnection, member_no: str | None, field: str = "member_no") -> None:
    """``CardError`` naming ``field`` when the members part knows no such member (or it was erased)."""
    views = _members()
    if member_no is None or views is None:
        return
    found = await views.profile(conn, member_no)
    if found is None or found.get("erased_at") is not None:
        raise CardError(field, f"没有会员 {member_no}，请核对会员号 (no member {member_no}: check the number)")
