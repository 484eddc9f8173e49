"""Two ``forecourt business`` processes (FORECOURT_BUSINESS_PARTITION 1/2 and 2/2) on one broker and database,
as in production: every fuelling recorded once, each fuelling point's in order, both processes at work, and
the events units of work commit to the outbox published once (one publisher at a time)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import aiomqtt
import httpx
import psycopg
import pytest

from business_services.audit.model import Actor
from business_services.partition import Partition
from business_services.unit_of_work import UnitOfWork
from edge_nodes.transactions import fuelling_event
from forecourt.local import free_port
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.events import CloudEvent
from tests.support.events import wait_for

pytestmark = pytest.mark.e2e

POINTS = (1, 2)
TRANSACTIONS = 5


def stations_of_both(group: str) -> list[str]:
    """Six stations, three in each partition (the hash of group/station decides which)."""
    mine: dict[bool, list[str]] = {True: [], False: []}
    for n in range(100):
        station = f"st-{n:02d}"
        first = Partition(1, 2).owns(f"forecourt/v1/{group}/{station}/events/fuelling.completed")
        if len(mine[first]) < 3:
            mine[first].append(station)
    return mine[True] + mine[False]


def record(number: int) -> dict[str, object]:
    return {"transaction": number, "nozzle": 1, "grade": 92, "volume": 20.0, "amount": 15780, "price": 789,
            "start": 1_772_352_000 + 100 * number, "end": 1_772_352_040 + 100 * number,
            "volume_total": 1000.0 + 20 * number, "end_reason": 1}


def spawn(partition: str, env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "forecourt.cli", "business", "--metrics-port", str(port)],
                            env=env | {"FORECOURT_BUSINESS_PARTITION": partition}, stdout=log.open("wb"),
                            stderr=subprocess.STDOUT, cwd=Path(__file__).parents[2])


async def healthz(port: int) -> dict[str, object]:
    async with httpx.AsyncClient() as client:
        try:
            r = await client.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
        except httpx.HTTPError:
            return {}
    return dict(r.json()) if r.status_code == 200 else {}


async def test_two_business_processes_share_the_stations(database_url: str, broker: BrokerAddress, group: str,
                                                         tmp_path: Path) -> None:
    stations = stations_of_both(group)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORECOURT_")}
    env.update(FORECOURT_DATABASE_URL=database_url, FORECOURT_MQTT_URL=broker.url(),
               FORECOURT_MQTT_V5="true" if broker.mqtt5 else "false", FORECOURT_GROUP=group,
               FORECOURT_BUSINESS_GROUP=group, FORECOURT_BROKER_DROP_WATCH="false",
               FORECOURT_DATA_DIR=str(tmp_path / "data"))
    ports = (free_port(), free_port())
    procs = [spawn(f"{i + 1}/2", env, port, tmp_path / f"business-{i + 1}.log") for i, port in enumerate(ports)]
    received: list[str] = []
    try:
        await wait_for(lambda: _all_healthy(ports), within_s=60)
        async with aiomqtt.Client(identifier=f"edge-{group}", **broker.client_kwargs()) as edge:
            await edge.subscribe(f"forecourt/v1/{group}/head-office/events/#", qos=1)

            async def listen() -> None:
                async for message in edge.messages:
                    received.append(json.loads(bytes(message.payload))["id"])   # type: ignore[arg-type]

            listener = asyncio.create_task(listen())
            sent = 0
            for number in range(1, TRANSACTIONS + 1):
                for station in stations:
                    for point in POINTS:
                        event = fuelling_event(station, "disp-01", point, record(number))
                        await edge.publish(f"forecourt/v1/{group}/{station}/events/fuelling.completed",
                                           event.to_bytes(), qos=1)
                        sent += 1
            async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
                emitted = []
                for version in range(3):
                    event = CloudEvent(source="head-office", type="price.applied", data={"version": version})
                    async with UnitOfWork(conn, Actor("system", "test")) as uow:
                        uow.emit(f"forecourt/v1/{group}/head-office/events/price.applied", event)
                    emitted.append(event.id)
                await wait_for(lambda: _count(conn, "SELECT count(*) FROM business.fuelling_transactions", sent),
                               within_s=60)
                await wait_for(lambda: _count(conn, "SELECT count(*) FROM business.outbox WHERE published_at "
                                                    "IS NOT NULL", 3), within_s=30)
                await wait_for(lambda: _true(len(received) >= 3))
                orders = await (await conn.execute(
                    """SELECT t.station, t.fuelling_point, array_agg(t.transaction_no ORDER BY h.handled_at)
                       FROM business.fuelling_transactions t JOIN business.handled_events h USING (event_id)
                       GROUP BY 1, 2""")).fetchall()
            listener.cancel()
        reports = [await healthz(port) for port in ports]
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGINT)
        codes = [proc.wait(timeout=30) for proc in procs]
    logs = "\n".join((tmp_path / f"business-{i}.log").read_text(errors="replace")[-1500:] for i in (1, 2))
    assert len(orders) == len(stations) * len(POINTS), logs
    assert all(list(numbers) == list(range(1, TRANSACTIONS + 1)) for _, _, numbers in orders), orders
    handled = [r["checks"]["consumer"]["detail"]["handled"] for r in reports]  # type: ignore[index]
    assert [r["checks"]["consumer"]["detail"]["partition"] for r in reports] == ["1/2", "2/2"]  # type: ignore[index]
    assert sum(r["checks"]["outbox"]["detail"]["active"] for r in reports) == 1   # type: ignore[index,misc]
    assert sum(handled) == sent + 3 and all(h > 0 for h in handled), (handled, logs)   # + the 3 price events
    assert received == emitted, logs                                           # once each, in order
    assert all(code in (0, 130) for code in codes), (codes, logs)


async def _all_healthy(ports: tuple[int, ...]) -> bool:
    return all([await healthz(port) for port in ports])


async def _count(conn: psycopg.AsyncConnection, sql: str, expected: int) -> bool:
    row = await (await conn.execute(sql)).fetchone()  # type: ignore[arg-type]
    return row is not None and row[0] == expected


async def _true(value: bool) -> bool:
    return value
