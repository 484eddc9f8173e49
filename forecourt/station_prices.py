"""Station role: hold the price set the edge node keeps on disk (``edge_nodes/prices.py``), as master data is held.

The edge node writes each newer set it receives to ``<data_dir>/edge/<station>.price-set.json`` atomically; the
station server follows that file (``follow_price_set``) and holds each version in its own database
(``business_services/station_prices``), so the POS and the price board know the set also while head office is
away. Each nozzle's state comes separately, from the edge's ``price.applied`` events on the station's bus.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import psycopg

from business_services.audit.model import Actor
from business_services.bootstrap import build_bus
from business_services.station_prices.handlers import HoldPriceSet
from business_services.unit_of_work import UnitOfWork
from forecourt.roles import Role, policy
from forecourt.stations import follow_file
from telemetry.contracts.prices import PriceSet

ACTOR = Actor.system("station prices")


async def load_price_set(database_url: str, path: Path) -> tuple[bool, int]:
    """Make this database hold the set the edge keeps at ``path``; (written, version)."""
    price_set = PriceSet.model_validate_json(await asyncio.to_thread(path.read_bytes))
    bus = build_bus(policy(Role.STATION).contexts)
    async with await psycopg.AsyncConnection.connect(database_url) as conn, UnitOfWork(conn, ACTOR) as uow:
        written = bool(await bus.handle(HoldPriceSet(price_set), uow))
    return written, price_set.version


async def follow_price_set(database_url: str, path: Path, every_s: float = 2.0) -> None:
    """Hold each new set the edge node writes to ``path`` (until cancelled)."""
    await follow_file(path, lambda p: load_price_set(database_url, p), "price set", every_s)
