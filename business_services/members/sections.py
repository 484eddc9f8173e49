"""The member 360°'s sections that other contexts provide through their views (contexts meet through views,
never each other's tables): points (``business_services.points.views.summary``) and cards
(``business_services.cards.views``: ``cards_of``, ``card``). One place, so the 360° page, the lookup and the
personal-data export read them alike."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg

from business_services.cards import views as cards_views
from business_services.points import views as points_views


async def points(conn: psycopg.AsyncConnection, member_no: str, now: datetime) -> dict[str, Any]:
    """Balance, points debt and what expires when."""
    return dict(await points_views.summary(conn, member_no, now))


async def points_balance(conn: psycopg.AsyncConnection, member_no: str) -> int:
    return await points_views.balance(conn, member_no)


async def cards(conn: psycopg.AsyncConnection, member_no: str) -> list[dict[str, Any]]:
    """The member's cards with their balances."""
    return [dict(c) for c in await cards_views.cards_of(conn, member_no)]


async def member_of_card(conn: psycopg.AsyncConnection, card_no: str) -> str | None:
    """The member a card is bound to (None: no such card, or an unbound one)."""
    found = await cards_views.card(conn, card_no)
    return None if found is None or found.get("member_no") is None else str(found["member_no"])
