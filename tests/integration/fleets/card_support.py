"""What the fleet card, authorisation and payment tests share (beside the cards tests' client, station key and
queries): an ask and a capture as the station sends them, and money put on a card."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import psycopg

from business_services.ledger import repository as ledger
from business_services.ledger.model import fleet_allocation_entry, fleet_recharge_entry
from telemetry.contracts.events.payments import Method
from tests.integration.cards.support import STATION, client, scalar, station_key

__all__ = ["AT", "STATION", "asking", "balance", "capturing", "client", "connected", "put_on_card", "scalar",
           "station_key"]

#: 10:00 in Shanghai on a Saturday: the asks' clock (tests never read the wall clock)
AT = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)
_numbers = itertools.count(1)


@contextlib.asynccontextmanager
async def connected(url: str) -> AsyncIterator[psycopg.AsyncConnection]:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        yield conn


def auth_no(station: str = STATION) -> str:
    return f"{station}-20261205-A{next(_numbers):05d}"


def payment_no(station: str = STATION) -> str:
    return f"{station}-20261205-P{next(_numbers):05d}"


def asking(card_no: str | None, **more: Any) -> dict[str, Any]:
    """An ask at nozzle disp-01/1 for grade 92 at 7.50 yuan a litre."""
    return {"auth_no": auth_no(), "station": STATION, "card_no": card_no, "nozzle": "disp-01/1", "grade": 92,
            "fen_per_l": 750, "at": AT.isoformat()} | more


def capturing(card_no: str, amount_fen: int, **more: Any) -> dict[str, Any]:
    return {"station": STATION, "payment_no": payment_no(), "card_no": card_no, "amount_fen": amount_fen,
            "order_nos": [f"{STATION}-20261205-O{next(_numbers):05d}"], "litres_ml": amount_fen * 1000 // 750,
            "grade": 92, "paid_at": AT.isoformat()} | more


async def put_on_card(url: str, enterprise: str, card_no: str, fen: int) -> None:
    """The enterprise recharges ``fen`` and allocates it to the card (the ledger's own entries)."""
    n = next(_numbers)
    async with connected(url) as conn, conn.transaction():
        await ledger.post(conn, fleet_recharge_entry(f"FR{n:06d}", enterprise, fen, 0, Method.WECHAT, STATION,
                                                     f"{STATION}-20261205-S01", AT))
        await ledger.post(conn, fleet_allocation_entry(f"FA{n:06d}", enterprise, card_no, fen, AT))


async def balance(url: str, code: str) -> int:
    return int(await scalar(url, "SELECT coalesce((SELECT balance FROM business.ledger_balances WHERE code = %s), 0)",
                            code))
