"""The station server's prices: the set its edge keeps (followed from the edge's file), each nozzle's state from
price.applied (a duplicate or an older report changes nothing), the station's GET …/prices in the contract's
shape behind login, permission and scope; and orders carry the price-set version their fuelling was sold under,
up to head office's copy."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from business_services.bootstrap import build_bus
from business_services.consumer import EventConsumer
from control_api.app import create_app
from edge_nodes.master_data import write_atomically
from forecourt.roles import Role, policy
from forecourt.station_prices import follow_price_set, load_price_set
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.events import CloudEvent
from telemetry.contracts.events.fuelling import FuellingCompleted
from telemetry.contracts.events.orders import OrderCreated
from telemetry.contracts.prices import PriceApplied, PriceSet
from tests.support.auth import TEST_TOKENS, headers
from tests.support.events import fuelling

pytestmark = pytest.mark.integration

STATION = "st-01"
T0 = datetime(2026, 12, 4, 8, tzinfo=UTC)
NOZZLES = [(1, 1, "92"), (1, 2, "95"), (2, 1, "92")]


def price_set(version: int, p92: int, p95: int) -> PriceSet:
    return PriceSet.model_validate({
        "station": STATION, "version": version, "effective_at": (T0 + timedelta(hours=version)).isoformat(),
        "grades": {"92": p92, "95": p95}, "change_no": f"PC{version:04d}", "reason": "调价",
        "nozzles": [{"device": "disp-01", "fuelling_point": fp, "nozzle": n, "grade": g,
                     "price_fen": p92 if g == "92" else p95} for fp, n, g in NOZZLES]})


def report(version: int, fp: int, nozzle: int, state: str, attempt: int = 1, minute: int = 0,
           price: int = 800) -> PriceApplied:
    return PriceApplied(station=STATION, version=version, device="disp-01", fuelling_point=fp, nozzle=nozzle,
                        grade="92" if nozzle == 1 else "95", price_fen=price, state=state,  # type: ignore[arg-type]
                        detail=f"{state} {attempt}", attempt=attempt, at=T0 + timedelta(hours=version, minutes=minute))


async def deliver(database_url: str, payloads: list[PriceApplied | FuellingCompleted], role: Role = Role.STATION,
                  ) -> EventConsumer:
    consumer = EventConsumer(database_url, BrokerAddress("127.0.0.1", 1), bus=build_bus(policy(role).contexts))
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        for p in payloads:
            event = p.envelope(event_id=p.event_id(), source=f"forecourt/{STATION}/edge")
            await consumer.handle(conn, f"forecourt/v1/g/{STATION}/events/{event.type}", event.to_bytes())
    return consumer


async def hold(database_url: str, tmp_path: Path, s: PriceSet) -> bool:
    path = tmp_path / f"{STATION}.price-set.json"
    write_atomically(path, s.model_dump_json().encode())
    written, version = await load_price_set(database_url, path)
    assert version == s.version
    return written


async def nozzle_rows(database_url: str) -> list[tuple[object, ...]]:
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        cur = await conn.execute("""SELECT version, fuelling_point, nozzle, state, attempt FROM
                                    business.station_price_nozzles ORDER BY version, fuelling_point, nozzle""")
        return await cur.fetchall()


async def test_reports_duplicated_and_reordered_end_in_the_newest(station_database_url: str, tmp_path: Path) -> None:
    assert await hold(station_database_url, tmp_path, price_set(1, 789, 836))
    assert not await hold(station_database_url, tmp_path, price_set(1, 789, 836))     # the same version: once
    story = [report(1, 1, 1, "pending"), report(1, 1, 1, "applied", minute=5),
             report(1, 1, 2, "refused", minute=1), report(1, 1, 2, "pending", attempt=2, minute=2),
             report(1, 1, 2, "applied", attempt=2, minute=3), report(1, 2, 1, "refused", minute=1),
             report(1, 2, 1, "refused", attempt=2, minute=9)]
    await deliver(station_database_url, story)
    expected = [(1, 1, 1, "applied", 1), (1, 1, 2, "applied", 2), (1, 2, 1, "refused", 2)]
    assert await nozzle_rows(station_database_url) == expected
    async with await psycopg.AsyncConnection.connect(station_database_url, autocommit=True) as conn:
        await conn.execute("TRUNCATE business.station_price_nozzles, business.handled_events")
    await deliver(station_database_url, story[::-1] + story[:3])               # backwards, and some twice
    assert await nozzle_rows(station_database_url) == expected


async def test_the_station_route_answers_the_contract_in_scope(station_database_url: str, tmp_path: Path) -> None:
    await hold(station_database_url, tmp_path, price_set(1, 789, 836))
    await deliver(station_database_url, [report(1, fp, n, "applied", price=789 if n == 1 else 836)
                                         for fp, n, _ in NOZZLES])
    await hold(station_database_url, tmp_path, price_set(2, 802, 851))
    await deliver(station_database_url, [report(2, 1, 1, "applied", price=802), report(2, 1, 2, "pending", price=851),
                                         report(2, 2, 1, "refused", price=802)])
    app = create_app(station_database_url, tokens=TEST_TOKENS, role=Role.STATION)
    url = f"/api/v1/stations/{STATION}/prices"
    with TestClient(app) as http:
        assert http.get(url).status_code == 401
        assert http.get(url, headers=headers(TEST_TOKENS, "order:read")).status_code == 403
        assert http.get(url, headers=headers(TEST_TOKENS, "price:read", stations=frozenset({"st-02"}))
                        ).status_code == 403
        answer = http.get(url, headers=headers(TEST_TOKENS, "price:read", stations=frozenset({STATION})))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["station"] == STATION and body["version_in_force"] == 1
    assert [(g["grade"], g["unit"], g["price_fen"]) for g in body["grades"]] == [("92", "L", 789), ("95", "L", 836)]
    assert body["grades"][0]["since"] is not None
    assert body["latest"]["version"] == 2 and body["latest"]["state"] == "partly_applied"
    assert body["latest"]["change_no"] == "PC0002"
    nozzles = {(n["fuelling_point"], n["nozzle"]): n for n in body["nozzles"]}
    assert {k: (n["state"], n["price_fen"], n["old_price_fen"]) for k, n in nozzles.items()} == {
        (1, 1): ("applied", 802, 789), (1, 2): ("pending", 851, 836), (2, 1): ("refused", 802, 789)}
    assert nozzles[(2, 1)]["detail"] == "refused 1" and nozzles[(2, 1)]["version"] == 2

    await deliver(station_database_url, [report(2, 1, 2, "applied", minute=1, price=851),
                                         report(2, 2, 1, "applied", attempt=2, price=802)])
    with TestClient(app) as http:
        body = http.get(url, headers=headers(TEST_TOKENS, "price:read")).json()
    assert body["version_in_force"] == 2 and body["latest"]["state"] == "in_force"
    assert [g["price_fen"] for g in body["grades"]] == [802, 851]


async def test_the_station_follows_the_edges_file(station_database_url: str, tmp_path: Path) -> None:
    path = tmp_path / f"{STATION}.price-set.json"
    follower = asyncio.create_task(follow_price_set(station_database_url, path, every_s=0.05))
    try:
        async with await psycopg.AsyncConnection.connect(station_database_url, autocommit=True) as conn:
            async def versions() -> list[int]:
                cur = await conn.execute("SELECT version FROM business.station_price_sets ORDER BY version")
                return [v for (v,) in await cur.fetchall()]
            for version in (1, 2):
                write_atomically(path, price_set(version, 780 + version, 830 + version).model_dump_json().encode())
                async with asyncio.timeout(10):
                    while await versions() != list(range(1, version + 1)):
                        await asyncio.sleep(0.05)
            cur = await conn.execute("SELECT count(*) FROM business.audit_log WHERE action = 'price_set.held'")
            assert (await cur.fetchone() or (0,))[0] == 2                      # each set held is in the audit chain
    finally:
        follower.cancel()
        await asyncio.gather(follower, return_exceptions=True)


async def test_orders_carry_the_price_set_up_to_head_office(station_database_url: str, database_url: str) -> None:
    sold = [FuellingCompleted.model_validate(fuelling(n, price_set=v)) for n, v in ((1, 1), (2, 2), (3, None))]
    await deliver(station_database_url, sold)
    async with await psycopg.AsyncConnection.connect(station_database_url) as conn:
        cur = await conn.execute("SELECT price_set FROM business.orders ORDER BY order_no")
        assert [v for (v,) in await cur.fetchall()] == [1, 2, None]
        cur = await conn.execute("SELECT payload FROM business.outbox ORDER BY seq")
        events = [CloudEvent.model_validate(p) for (p,) in await cur.fetchall()]
    created = [OrderCreated.from_event(e) for e in events if e.type == "order.created"]
    assert [c.price_set for c in created] == [1, 2, None]

    app = create_app(station_database_url, tokens=TEST_TOKENS, role=Role.STATION)
    with TestClient(app) as http:
        page = http.get(f"/api/v1/stations/{STATION}/orders", headers=headers(TEST_TOKENS, "order:read")).json()
        assert sorted(o["price_set"] or 0 for o in page["items"]) == [0, 1, 2]

    await deliver(database_url, created, role=Role.HEAD_OFFICE)                 # head office's copy holds it too
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        cur = await conn.execute("SELECT price_set FROM business.station_orders ORDER BY order_no")
        assert [v for (v,) in await cur.fetchall()] == [1, 2, None]
