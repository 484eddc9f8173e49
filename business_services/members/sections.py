"""The member 360°'s sections that other parts of issue 18 provide through their views: points
(``business_services.points.views``: ``summary``) and cards (``business_services.cards.views``: ``cards_of``,
``card``). They were written beside this part on their own branches; each section is given once its part is
installed and left out of the answer until then (never a placeholder). After the merge these could be plain
imports; the seam stays one place either way."""

from __future__ import annotations

import importlib
from datetime import datetime
from types import ModuleType
from typing import Any

import psycopg

POINTS, CARDS = "business_services.points.views", "business_services.cards.views"


def part(module: str) -> ModuleType | None:
    """The part's views module, or None when that part is not installed."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as missing:
        if missing.name is not None and module.startswith(missing.name):
            return None
        raise                                   # the part is there but something it needs is not: a real error


async def points(conn: psycopg.AsyncConnection, member_no: str, now: datetime) -> dict[str, Any] | None:
    """Balance, points debt and what expires when (the points part), or None without it."""
    views = part(POINTS)
    return None if views is None else dict(await views.summary(conn, member_no, now))


async def cards(conn: psycopg.AsyncConnection, member_no: str) -> list[dict[str, Any]] | None:
    """The member's cards with their balances (the cards part), or None without it."""
    views = part(CARDS)
    return None if views is None else [dict(c) for c in await views.cards_of(conn, member_no)]


async def member_of_card(conn: psycopg.AsyncConnection, card_no: str) -> str | None:
    """The member a card is bound to (None: no such card, an unbound card, or no cards part)."""
    views = part(CARDS)
    found = None if views is None else await views.card(conn, card_no)
    return None if found is None or found.get("member_no") is None else str(found["member_no"])
