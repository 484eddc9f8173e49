"""What the cards tests share: an app on the test database, callers, a card type and cards made over the API."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import AsyncIterator
from typing import Any

import httpx
import psycopg
from fastapi import FastAPI

from business_services.ledger import views as ledger_views
from tests.support.auth import bearer

STATION = "demo-01"
CLERK = ("card:read", "card:write", "pii:read", "member:write")
_keys = itertools.count(1)


def key() -> dict[str, str]:
    return {"Idempotency-Key": f"cards-test-{next(_keys):06d}"}


@contextlib.asynccontextmanager
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app), \
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        yield http


def clerk(app: FastAPI, username: str = "li", *more: str, stations: frozenset[str] | None = None) -> dict[str, str]:
    """A head-office card clerk (every station unless ``stations``), seeing full numbers."""
    return bearer(app, *CLERK, *more, stations=stations, username=username)


def station_key(app: FastAPI, station: str = STATION) -> dict[str, str]:
    """A station server's API key."""
    return bearer(app, "payment:online", stations=frozenset({station}), username=f"station-{station}")


CHAIN_TYPE = {"code": "chain-sv", "name": "连锁储值卡", "scope": "chain", "named": True, "medium": "physical",
              "prefix": "8861", "length": 16, "offline_limit_fen": 20000, "offline_daily_fen": 50000}


async def card_type(http: httpx.AsyncClient, who: dict[str, str], **changes: Any) -> dict[str, Any]:
    answer = await http.post("/api/v1/card-types", json=CHAIN_TYPE | changes, headers=who)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


async def issue(http: httpx.AsyncClient, who: dict[str, str], **body: Any) -> list[str]:
    answer = await http.post("/api/v1/cards", json={"card_type": "chain-sv", "station": STATION} | body,
                             headers=who | key())
    assert answer.status_code == 200, answer.text
    return list(answer.json()["card_nos"])


async def recharge(http: httpx.AsyncClient, who: dict[str, str], card_no: str, paid_fen: int,
                   recharge_no: str) -> httpx.Response:
    return await http.post(f"/api/v1/cards/{card_no}/recharges", headers=who | key(),
                           json={"paid_fen": paid_fen, "method": "wechat", "station": STATION,
                                 "recharge_no": recharge_no})


async def scalar(url: str, sql: str, *params: Any) -> Any:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        row = await (await conn.execute(sql, params)).fetchone()
        return None if row is None else row[0]


async def rows(url: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        return list(await (await conn.execute(sql, params)).fetchall())


async def balances(url: str, *codes: str) -> dict[str, int]:
    """Ledger accounts' balances as the ledger's views read them (0: never posted to)."""
    async with await psycopg.AsyncConnection.connect(url) as conn:
        found = {code: await ledger_views.account(conn, code) for code in codes}
    return {code: 0 if row is None else int(row["balance"]) for code, row in found.items()}


async def balance(url: str, card_no: str) -> int:
    return (await balances(url, f"card:{card_no}"))[f"card:{card_no}"]


async def listed(url: str, card_no: str) -> dict[str, Any] | None:
    """The newest member-list change of the card (None: unlisted)."""
    found = await rows(url, "SELECT item FROM business.member_list_changes WHERE kind = 'card' AND key = %s "
                            "ORDER BY seq DESC LIMIT 1", card_no)
    assert found, f"card {card_no} was never listed"
    return found[0][0]  # type: ignore[no-any-return]


async def member(http: httpx.AsyncClient, who: dict[str, str], n: int) -> str:
    """A member registered for the tests (cards refuse the number of no member)."""
    answer = await http.post("/api/v1/members", json={"phone": f"139{n:08d}", "source": "back_office"},
                             headers=who | key())
    assert answer.status_code == 201, answer.text
    return str(answer.json()["member_no"])
