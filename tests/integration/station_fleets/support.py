"""A station server's database with a dispenser nozzle, its price (a fuelling sold at it) and fleet cards on its
member list; a pump that records the presets it is sent."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import psycopg

from business_services.audit.model import Actor
from business_services.bootstrap import build_bus
from business_services.station_members.handlers import HoldMemberList
from business_services.unit_of_work import UnitOfWork
from forecourt.roles import Role, policy
from telemetry.contracts.members import ListChange, ListedFleetCard, ListPage
from tests.integration.inventory.support import seed_station
from tests.integration.sales.payments_support import STATION, add_orders

NOZZLE, OTHER_NOZZLE = "disp-01/1/2", "disp-01/2/1"
CARD, PLATE = "9100900001000018", "京B12345"


def fleet_card(**changes: object) -> ListedFleetCard:
    values: dict[str, object] = {
        "card_no": CARD, "enterprise": "E900001", "enterprise_name": "顺达物流", "status": "active",
        "enterprise_status": "normal", "pays_from": "credit", "plate": PLATE, "daily_fen": 30000,
        "offline_limit_fen": 15000, "available_fen": 100000}
    return ListedFleetCard.model_validate(values | changes)


async def hold(station_url: str, *cards: ListedFleetCard, seq: int = 1) -> None:
    """Hold ``cards`` in the station's member list as one page (what a pull does)."""
    changes = tuple(ListChange(seq=seq + n, kind="fleet_card", key=c.card_no, item=c, at=datetime.now(UTC))
                    for n, c in enumerate(cards))
    async with await psycopg.AsyncConnection.connect(station_url, autocommit=True) as conn, \
            UnitOfWork(conn, Actor.system("test")) as uow:
        await build_bus(policy(Role.STATION).contexts).handle(
            HoldMemberList(STATION, ListPage(items=changes, next_after=seq + len(cards) - 1, more=False)), uow)


async def forecourt(station_url: str) -> None:
    """Two dispenser nozzles of grade 92 at 7.50 yuan a litre (the price of their last fuelling)."""
    async with await psycopg.AsyncConnection.connect(station_url, autocommit=True) as conn:
        await seed_station(conn, STATION, [(1, "92", 30000.0)], [("disp-01", 1, 2, "92"), ("disp-01", 2, 1, "92")])
    await add_orders(station_url, 7500, first=900)


@dataclass
class Pump:
    """The edge's answer to ``command.authorize_nozzle``: it takes every preset unless told to refuse."""

    sent: list[tuple[str, int, int, int]] = field(default_factory=list)
    refuse: str | None = None

    async def __call__(self, device: str, point: int, nozzle: int, preset_fen: int) -> str | None:
        self.sent.append((device, point, nozzle, preset_fen))
        return self.refuse
