"""Read queries of the orders context, for the API and for other contexts."""

from __future__ import annotations

import psycopg

from business_services.orders import repository
from business_services.orders.model import Due


async def dues(conn: psycopg.AsyncConnection, station: str, order_nos: list[str]) -> dict[str, Due]:
    """What a payment needs of its orders, each locked until the caller's transaction ends (payments)."""
    return await repository.dues(conn, station, order_nos)
