"""The pay endpoint's short path switches its pooled connection to autocommit while it sends BEGIN and COMMIT
with the Idempotency-Key's statements (control_api/idempotency.py ``once_in_two_transactions``): every
connection goes back to the pool as it was lent (not in autocommit, no transaction open), after a payment,
a refusal and a replay alike, so that the next route using it keeps its transaction. Real PostgreSQL, the
station server's real API."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import psycopg
import pytest
from fastapi import FastAPI

from tests.integration.sales.payments_support import STATION, add_orders, cash, cashier, open_shift, station_api

pytestmark = pytest.mark.integration
PAYMENTS = f"/api/v1/stations/{STATION}/payments"


async def _pooled(app: FastAPI) -> list[tuple[bool, psycopg.pq.TransactionStatus]]:
    """(autocommit, transaction status) of every connection the pool holds, all lent out at once."""
    size = app.state.database.pool.get_stats()["pool_size"]
    async with contextlib.AsyncExitStack() as stack:
        connections = [await stack.enter_async_context(app.state.database.connection()) for _ in range(size)]
        return [(c.autocommit, c.info.transaction_status) for c in connections]


async def test_every_connection_goes_back_to_the_pool_as_it_was_lent(station_database_url: str) -> None:
    url = station_database_url
    await open_shift(url)
    orders = await add_orders(url, *[3000] * 8)
    async with station_api(url) as (app, http):
        auth = cashier(app)

        async def pay(order_no: str, fen: int, key: str | None = None) -> int:
            answer = await http.post(PAYMENTS, headers={**auth, "Idempotency-Key": key or str(uuid.uuid4())},
                                     json={"terminal": "pos-1", "order_nos": [order_no], "tenders": [cash(fen)]})
            return answer.status_code

        statuses = await asyncio.gather(*[pay(o, 3000) for o in orders[:6]])     # several connections at once
        assert statuses == [200] * 6
        assert await pay(orders[6], 3001) == 409                                   # refused: rolled back
        replayed = str(uuid.uuid4())
        assert await pay(orders[7], 3000, replayed) == 200
        assert await pay(orders[7], 3000, replayed) == 200                         # replayed
        pooled = await _pooled(app)
    assert pooled and all(state == (False, psycopg.pq.TransactionStatus.IDLE) for state in pooled), pooled
