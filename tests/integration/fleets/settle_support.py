"""What the settlement tests share (statements, receivables, the bank): an app and a settler, fleet credit sales
and refunds recorded as head office records them (a fleet_payments row and the ledger's fleet_payment_entry), and
the bank simulator wired to the app (its notifications reach the app's callback; the app polls it)."""

from __future__ import annotations

import contextlib
import itertools
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
import psycopg
from fastapi import FastAPI

from business_services.cards.model import CHINA
from business_services.fleets import statements
from business_services.fleets.bank import BankLink
from business_services.ledger import repository as ledger
from business_services.ledger.model import fleet_payment_entry, fleet_refund_entry
from simulators.bank.server import BankSim
from tests.support.auth import bearer
from tests.support.fleets import make_card, make_enterprise

SETTLER = ("fleet:read", "fleet:settle", "pii:read")
_numbers = itertools.count(1)


def settler(app: FastAPI, *more: str, stations: frozenset[str] | None = None,
            permissions: tuple[str, ...] = SETTLER) -> dict[str, str]:
    return bearer(app, *permissions, *more, stations=stations, username="zhao")


@contextlib.asynccontextmanager
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app), \
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        yield http


@contextlib.asynccontextmanager
async def bank_for(app: FastAPI) -> AsyncIterator[tuple[BankSim, httpx.AsyncClient]]:
    """The bank simulator, its notifications posted to the app's callback and the app's polls answered by it;
    yields the simulator and a client of its test controls."""
    push = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
    sim = BankSim(callback_url="http://test/api/v1/bank/notifications", push=push)
    app.state.bank = BankLink("http://bank", sim.keys.client_id, sim.keys.secret, sim.keys.account_no)
    control = httpx.AsyncClient(transport=httpx.ASGITransport(app=sim.app), base_url="http://bank")
    app.state.bank_client = control
    try:
        yield sim, control
    finally:
        await control.aclose()
        await sim.close()


async def transfer(control: httpx.AsyncClient, amount_fen: int, memo: str = "", payer_account: str = "6212260200001234",
                   **more: Any) -> dict[str, Any]:
    body = {"payer_account": payer_account, "payer_name": "顺达物流有限公司", "amount_fen": amount_fen, "memo": memo}
    answer = await control.post("/_sim/transfers", json=body | more)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def sale(conn: psycopg.AsyncConnection[Any], enterprise: str, card_no: str, amount_fen: int, at: datetime,
               station: str = "demo-01", pays_from: str = "credit") -> str:
    """A fleet sale as head office records it (the capture's row and its ledger entry); its payment number."""
    payment_no = f"P{next(_numbers):08d}"
    await conn.execute(
        "INSERT INTO business.fleet_payments (station, payment_no, enterprise, card_no, pays_from, order_nos, "
        "grade, litres_ml, amount_fen, paid_at) VALUES (%s, %s, %s, %s, %s, %s, 92, %s, %s, %s)",
        (station, payment_no, enterprise, card_no, pays_from, [f"O{payment_no[1:]}"], amount_fen * 12, amount_fen, at))
    if pays_from == "credit":   # a card-balance sale's money (allocated to the card first) is not these tests' subject
        await ledger.post(conn, fleet_payment_entry(station, payment_no, enterprise, None, amount_fen, at))
    return payment_no


async def refund(conn: psycopg.AsyncConnection[Any], enterprise: str, card_no: str, payment_no: str, amount_fen: int,
                 at: datetime, station: str = "demo-01") -> str:
    refund_no = f"R{next(_numbers):08d}"
    await conn.execute(
        "INSERT INTO business.fleet_refunds (station, refund_no, payment_no, enterprise, card_no, amount_fen, "
        "refunded_at) VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (station, refund_no, payment_no, enterprise, card_no, amount_fen, at))
    await ledger.post(conn, fleet_refund_entry(station, refund_no, enterprise, None, amount_fen, at))
    return refund_no


async def scalar(url: str, sql: str, *params: Any) -> Any:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        row = await (await conn.execute(sql, params)).fetchone()
        return None if row is None else row[0]


async def billed_month(url: str, *, month: int = 11, code: str | None = None) -> tuple[str, str, int]:
    """An enterprise's month of credit sales on 3 cards at 2 stations with a refund, billed: (code, number, total)."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        if code is None:
            code = await make_enterprise(conn, statement_day=1, credit_days=10, contacts=json.dumps(
                [{"name": "王会计", "phone": "13800138000", "role": "财务"}]))
            cards = [await make_card(conn, code, serial=n) for n in (1, 2, 3)]
        else:
            cards = [c for (c,) in await (await conn.execute("SELECT card_no FROM business.fleet_cards WHERE "
                                                             "enterprise = %s", (code,))).fetchall()]
        last, station = "", ""
        for day in range(1, 29, 4):
            station = ("demo-01", "demo-02")[day // 4 % 2]
            last = await sale(conn, code, cards[day % 3], 20_000 + day * 11,
                              datetime(2026, month, day, 9, tzinfo=CHINA), station=station)
        await refund(conn, code, cards[0], last, 5_000, datetime(2026, month, 28, 18, tzinfo=CHINA), station=station)
        await statements.issue_due(conn, datetime(2026, month + 1, 2, tzinfo=CHINA))
        number = f"FS{code[1:]}-2026{month + 1:02d}01"
        total = await scalar(url, "SELECT total_fen FROM business.fleet_statements WHERE statement_no = %s", number)
    assert total is not None
    return code, number, int(total)
