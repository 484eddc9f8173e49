"""A station server's API on a real port (uvicorn, the station role), with an open shift and orders."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime

import httpx
import psycopg
import uvicorn
from fastapi import FastAPI

from business_services.audit.model import Actor
from business_services.bootstrap import MemorySink, build_bus, outbox_publisher
from business_services.payments.providers import PaymentProvider
from business_services.payments.registry import Providers
from business_services.shifts.model import OpenShift
from business_services.unit_of_work import UnitOfWork
from control_api.app import create_app
from control_api.security import TokenIssuer
from forecourt.local import free_port, wait_for_port
from forecourt.roles import Role, policy
from tests.support.auth import bearer

STATION = "demo-01"
MANAGER = Actor(name="manager", source="127.0.0.1")


@contextlib.asynccontextmanager
async def station_api(database_url: str, online: Iterable[PaymentProvider] = (),
                      printer: str | None = None) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = create_app(database_url, tokens=TokenIssuer("payments-test-secret-of-at-least-32-bytes"),
                     role=Role.STATION)
    app.state.payment_providers = Providers(online)
    app.state.receipt_printer = printer
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    try:
        await wait_for_port("127.0.0.1", port)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            yield app, http
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task


def cashier(app: FastAPI, username: str = "cashier") -> dict[str, str]:
    return bearer(app, "payment:read", "payment:take", stations=frozenset({STATION}), username=username)


def manager(app: FastAPI) -> dict[str, str]:
    return bearer(app, "payment:read", "payment:take", "payment:refund", stations=frozenset({STATION}),
                  username="manager")


async def open_shift(database_url: str) -> str:
    async with (await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn,
                UnitOfWork(conn, MANAGER) as uow):
        shift_no: str = await build_bus(policy(Role.STATION).contexts).handle(
            OpenShift(STATION, "cashier", datetime.now(UTC)), uow)
    return shift_no


async def add_orders(database_url: str, *amounts_fen: int, first: int = 1) -> list[str]:
    """Fuelling orders owing ``amounts_fen`` (test data written as the orders context writes it)."""
    numbers = []
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        for n, fen in enumerate(amounts_fen, start=first):
            order_no = f"{STATION}-20261204-O{n:05d}"
            await conn.execute(
                """INSERT INTO business.orders (order_no, station, kind, fuelling_event_id, pump, fuelling_point,
                       nozzle, grade, volume_l, price_fen_per_l, amount_fen, created_at)
                   VALUES (%s, %s, 'fuelling', %s, 'disp-01', 1, 2, 92, %s, 750, %s, now())""",
                (order_no, STATION, f"evt-{n}", round(fen / 750, 2), fen))
            numbers.append(order_no)
    return numbers


async def scalar(database_url: str, query: str, *args: object) -> object:
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        row = await (await conn.execute(query, args)).fetchone()
    return None if row is None else row[0]


def cash(fen: int) -> dict[str, object]:
    return {"method": "cash", "amount_fen": fen}


async def link_returns(station_url: str) -> list[tuple[str, bytes]]:
    """The station's outbox drained to the broker (a fake one): what it published, in order."""
    sink = MemorySink()
    publishing = asyncio.create_task(outbox_publisher(station_url, sink, poll_s=0.05).run())
    try:
        async with await psycopg.AsyncConnection.connect(station_url, autocommit=True) as conn:
            async with asyncio.timeout(60):
                while (await (await conn.execute("SELECT count(*) FROM business.outbox "
                                                 "WHERE published_at IS NULL")).fetchone() or (1,))[0]:
                    await asyncio.sleep(0.1)
    finally:
        publishing.cancel()
        await asyncio.gather(publishing, return_exceptions=True)
    return sink.sent
