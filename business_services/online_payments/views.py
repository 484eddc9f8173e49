"""Read queries of the online payments context for other contexts and the API."""

from __future__ import annotations

import psycopg

from business_services.online_payments import repository


async def has_active_agreement(conn: psycopg.AsyncConnection, member_no: str) -> bool:
    """Whether the member's 免密支付 agreement is signed and not ended (what the drive-through choice needs)."""
    return await repository.active_contract(conn, member_no) is not None
