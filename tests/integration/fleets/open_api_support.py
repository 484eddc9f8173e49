"""What the open API and webhook tests share: an app, a fleet:write clerk, enterprises with vehicle cards, and
fleet sales recorded at head office (rows of business.fleet_payments with their ledger entries), as the fleet
payment handler records them."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
import psycopg
from fastapi import FastAPI

from business_services.ledger import repository as ledger
from business_services.ledger.model import fleet_payment_entry
from tests.support.auth import bearer
from tests.support.fleets import make_card, make_enterprise

STATION = "demo-01"
_payments = itertools.count(1)


@contextlib.asynccontextmanager
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app), \
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        yield http


def clerk(app: FastAPI, stations: frozenset[str] | None = frozenset({STATION})) -> dict[str, str]:
    """A fleet manager of demo-01."""
    return bearer(app, "fleet:read", "fleet:write", stations=stations, username="wu")


async def fleet(url: str, name: str, plates: list[str], **enterprise: Any) -> tuple[str, list[str]]:
    """An enterprise with one vehicle card per plate: its code and card numbers."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        code = await make_enterprise(conn, name=name, **enterprise)
        cards = [await make_card(conn, code, serial=i + 1, plate=plate) for i, plate in enumerate(plates)]
    return code, cards


async def sale(url: str, code: str, card_no: str, plate: str, amount_fen: int, paid_at: datetime,
               station: str = STATION) -> str:
    """A fleet sale on credit recorded at head office (its payment number)."""
    payment_no = f"{station}-{paid_at:%Y%m%d}-P{next(_payments):05d}"
    async with await psycopg.AsyncConnection.connect(url) as conn, conn.transaction():
        await conn.execute("""INSERT INTO business.fleet_payments (station, payment_no, enterprise, card_no, pays_from,
                                  order_nos, plate, grade, litres_ml, amount_fen, paid_at)
                              VALUES (%s, %s, %s, %s, 'credit', %s, %s, 0, %s, %s, %s)""",
                           (station, payment_no, code, card_no, [payment_no.replace("-P", "-O")], plate,
                            amount_fen * 10 // 7, amount_fen, paid_at))
        await ledger.post(conn, fleet_payment_entry(station, payment_no, code, None, amount_fen, paid_at))
    return payment_no


async def api_key(http: httpx.AsyncClient, who: dict[str, str], code: str, *scopes: str,
                  per_minute: int = 60) -> dict[str, str]:
    answer = await http.post(f"/api/v1/fleet-enterprises/{code}/partner-keys", headers=who,
                             json={"scopes": list(scopes or ("vehicles", "fuellings", "balances")),
                                   "per_minute": per_minute, "note": "调度系统"})
    assert answer.status_code == 201, answer.text
    return {"X-API-Key": answer.json()["key"]}


async def rows(url: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        return list(await (await conn.execute(sql, params)).fetchall())
