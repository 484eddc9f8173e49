"""Head office keeps a copy of each station's orders from order.created / order.changed: a duplicated and
reordered delivery ends in the same copy, and the API serves it in the caller's scope."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from fastapi.testclient import TestClient

from business_services.bootstrap import build_bus
from business_services.consumer import EventConsumer
from control_api.app import create_app
from forecourt.roles import Role, policy
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.events.envelope import EventPayload
from telemetry.contracts.events.orders import OrderChanged, OrderCreated
from tests.support.auth import TEST_TOKENS, admin_headers

pytestmark = pytest.mark.integration

STATION = "st-01"
T0 = datetime(2026, 12, 4, 8, tzinfo=UTC)


def created(n: int) -> OrderCreated:
    return OrderCreated(order_no=f"st-01-20261204-O{n:05d}", station=STATION, kind="fuelling", status="payable",
                        version=1, fuelling_event_id=f"f{n}", pump="disp-01", fuelling_point=1, nozzle=1 + n % 2,
                        grade=92, volume_l="40.00", price_fen_per_l=725, amount_fen=29000, shift_no="st-01-S1",
                        fuelled_at=T0 + timedelta(minutes=n), created_at=T0 + timedelta(minutes=n))


def changed(n: int, version: int, status: str, paid: int) -> OrderChanged:
    return OrderChanged(order_no=f"st-01-20261204-O{n:05d}", station=STATION, version=version, action="payment",
                        status=status, paid_fen=paid, at=T0 + timedelta(minutes=n, seconds=version))


def story() -> list[EventPayload]:
    """Ten orders: even ones paid in two steps, odd ones held and noted."""
    events: list[EventPayload] = []
    for n in range(10):
        events.append(created(n))
        if n % 2 == 0:
            events += [changed(n, 2, "payable", 10000), changed(n, 3, "paid", 29000)]
        else:
            events.append(changed(n, 2, "held", 0))
    return events


async def copies(database_url: str, events: list[EventPayload], broker: BrokerAddress) -> list[tuple[object, ...]]:
    consumer = EventConsumer(database_url, broker, bus=build_bus(policy(Role.HEAD_OFFICE).contexts))
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        for payload in events:
            event = payload.envelope(source=f"station:{STATION}", event_id=payload.event_id())  # type: ignore[attr-defined]
            await consumer.handle(conn, f"forecourt/v1/g/{STATION}/events/{event.type}", event.to_bytes())
        cur = await conn.execute("""SELECT order_no, kind, status, version, paid_fen, amount_fen, nozzle, created_at
                                    FROM business.station_orders ORDER BY order_no""")
        return await cur.fetchall()


async def test_duplicated_and_reordered_deliveries_end_in_the_same_copy(database_url: str,
                                                                        broker: BrokerAddress) -> None:
    in_order = await copies(database_url, story(), broker)
    assert len(in_order) == 10
    assert {(row[2], row[3], row[4]) for row in in_order} == {("paid", 3, 29000), ("held", 2, 0)}
    shuffled = story() + story()[::3]
    random.Random(7).shuffle(shuffled)
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute("TRUNCATE business.station_orders, business.handled_events")
    assert await copies(database_url, shuffled, broker) == in_order


async def test_the_api_serves_the_copy_in_scope(database_url: str, broker: BrokerAddress) -> None:
    await copies(database_url, story(), broker)
    with TestClient(create_app(database_url, tokens=TEST_TOKENS)) as http:
        headers = admin_headers("order:read")
        first = http.get(f"/api/v1/stations/{STATION}/reported-orders", params={"limit": 4}, headers=headers).json()
        rest = http.get(f"/api/v1/stations/{STATION}/reported-orders", params={"cursor": first["next_cursor"]},
                        headers=headers).json()
        numbers = [o["order_no"] for o in first["items"] + rest["items"]]
        assert numbers == [f"st-01-20261204-O{n:05d}" for n in range(9, -1, -1)]       # newest first, each once
        held = http.get(f"/api/v1/stations/{STATION}/reported-orders", params={"status": "held"},
                        headers=headers).json()
        assert len(held["items"]) == 5
        one = http.get(f"/api/v1/stations/{STATION}/reported-orders/st-01-20261204-O00004", headers=headers).json()
        assert (one["status"], one["paid_fen"], one["amount_fen"]) == ("paid", 29000, 29000)
        assert http.get(f"/api/v1/stations/{STATION}/reported-orders/st-01-20261204-O99999",
                        headers=headers).status_code == 404
