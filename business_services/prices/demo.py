"""The demo's first price set: 92# and 95# at the prices the demo dispenser simulator starts with
(``forecourt/simulate.py::DEMO_DISPENSER``), so the price pages show something from the first start."""

from __future__ import annotations

from typing import Any

import psycopg

from business_services.audit.model import Actor
from business_services.prices.handlers import SeedPriceSet, seed_set
from business_services.unit_of_work import UnitOfWork

DEMO_PRICES = {"92": 789, "95": 836}


async def seed_demo_prices(conn: psycopg.AsyncConnection[Any], station: str, group: str,
                           grades: dict[str, int] | None = None) -> int | None:
    """Version 1 of ``station`` when it has no set yet (a second start changes nothing)."""
    async with UnitOfWork(conn, Actor.system("demo")) as uow:
        return await seed_set(SeedPriceSet(group, station, dict(grades or DEMO_PRICES)), uow)
