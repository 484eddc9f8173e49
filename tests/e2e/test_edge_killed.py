"""Issue 4: the edge node is killed with SIGKILL in a busy minute and restarted: nothing lost, nothing doubled.

The edge runs as its own process. At the kill, the test reads the edge's outbox file: those are the
readings and transactions it had taken but not yet delivered. After the restart every one of them
must reach the database, and every fuelling the pump made must be recorded exactly once, including
several on the same side while the edge was dead (read back from the pump's buffer by number; the
pump's unpaid limit of 3 keeps them there until the cashier is paid).
"""

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from business_services.consumer import EventConsumer
from forecourt.local import free_port
from simulators.dispenser.states import FpState, PresetType
from telemetry.contracts.broker import BrokerAddress
from telemetry.ingest.worker import IngestWorker
from tests.support.health import healthy
from tests.support.station import dispenser

pytestmark = [pytest.mark.e2e, pytest.mark.serial]


def _start_edge(env: dict[str, str], station: Path, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "forecourt.cli", "edge", "--station", str(station)], env=env,
                            stdout=log.open("ab"), stderr=subprocess.STDOUT, cwd=Path(__file__).parents[2])


def _unsent(outbox: Path) -> tuple[list[tuple[str, str, int]], int]:
    """(device, metric, source ms) of every reading still queued, and the number of queued events."""
    db = sqlite3.connect(outbox)
    try:
        rows = db.execute("SELECT kind, target, body FROM outbox").fetchall()
    finally:
        db.close()
    readings = [(target, key, ts) for kind, target, body in rows if kind == "telemetry"
                for key, _, ts, _, _ in json.loads(body)]
    return readings, sum(1 for kind, _, _ in rows if kind == "event")


async def _busy_pump(server: object, stop: asyncio.Event) -> None:
    """Cars one after another on both fuelling points until told to stop. A car waits while the pump
    refuses to authorise (the previous fuelling not yet paid)."""
    model = server.model  # type: ignore[attr-defined]

    async def side(fp: int, centilitres: list[int]) -> None:
        i = 0
        while not stop.is_set():
            server.catch_up()  # type: ignore[attr-defined]
            model.lift_nozzle(fp, 1)
            while model.authorise(fp, PresetType.VOLUME, centilitres[i % len(centilitres)], 1) != 0:
                await asyncio.sleep(0.1)                 # unpaid: wait for the cashier
                server.catch_up()  # type: ignore[attr-defined]
            while model.fp_view(fp).state in (FpState.AUTHORISED, FpState.STARTED, FpState.FUELLING):
                await asyncio.sleep(0.1)
                server.catch_up()  # type: ignore[attr-defined]
            model.hang_nozzle(fp, 1)
            i += 1

    await asyncio.gather(side(1, [200, 350, 120]), side(2, [150, 90, 400]))


async def _cashier(server: object, database_url: str, done: asyncio.Event) -> None:
    """Takes payment for a fuelling once the platform has recorded it (as the POS would)."""
    model = server.model  # type: ignore[attr-defined]
    paid: set[tuple[int, int]] = set()
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        while not done.is_set():
            for fp, number in await (await conn.execute(
                    "SELECT fuelling_point, transaction_no FROM business.fuelling_transactions")).fetchall():
                if (fp, number) not in paid:
                    server.catch_up()  # type: ignore[attr-defined]
                    model.clear(fp, number)
                    paid.add((fp, number))
            await asyncio.sleep(0.2)


async def test_sigkill_loses_and_doubles_nothing(database_url: str, broker: BrokerAddress, group: str,
                                                 tmp_path: Path) -> None:
    from simulators.dispenser.config import DispenserConfig, FuellingPointConfig, NozzleConfig

    two_sides = DispenserConfig(fuelling_points=[FuellingPointConfig(nozzles=[NozzleConfig()]),
                                                 FuellingPointConfig(nozzles=[NozzleConfig()])], unpaid_limit=3)
    host = f"host-{group}"
    async with dispenser(two_sides, speed=8.0) as pump:
        station = tmp_path / "station.yaml"
        station.write_text(f"station: st-kill\ndevices:\n  - code: disp-01\n    port: {pump.port}\n"
                           "    profile: dispenser-v1\n    fuelling_points: 2\n    poll_interval_s: 0.25\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith("FORECOURT_")}
        env.update(FORECOURT_MQTT_URL=broker.url(), FORECOURT_MQTT_V5="true" if broker.mqtt5 else "false",
                   FORECOURT_GROUP=group, FORECOURT_PRIMARY_HOST_ID=host, FORECOURT_DATA_DIR=str(tmp_path / "data"),
                   FORECOURT_EDGE_METRICS_PORT=str(free_port()))
        outbox = tmp_path / "data" / "edge" / "st-kill.outbox.sqlite"
        log = tmp_path / "edge.log"
        ingest = IngestWorker(database_url, broker, group=group, client_id=f"i-{group}", host_id=host)
        business = EventConsumer(database_url, broker, client_id=f"b-{group}", group=group)
        services = [asyncio.create_task(s.run()) for s in (ingest, business)]
        # the consumers' sessions exist before the first fuelling is published (a busy machine is slow to start)
        await asyncio.wait_for(asyncio.gather(ingest.subscribed.wait(), business.subscribed.wait()), 30)
        stop, paid_up = asyncio.Event(), asyncio.Event()
        edge = _start_edge(env, station, log)
        # cars come once the edge is up: what the pump did before the edge's first start is not its to report
        await healthy(int(env["FORECOURT_EDGE_METRICS_PORT"]))
        traffic = asyncio.create_task(_busy_pump(pump, stop))
        cashier = asyncio.create_task(_cashier(pump, database_url, paid_up))
        try:
            await asyncio.sleep(12)
            edge.send_signal(signal.SIGKILL)
            edge.wait(10)
            killed_at = pump.clock.stamp()                # the time the pump writes on its records
            pending, _ = _unsent(outbox)
            await asyncio.sleep(3)                       # the pump goes on while the edge is dead
            restarted_at = pump.clock.stamp()
            edge = _start_edge(env, station, log)
            await asyncio.sleep(8)
            stop.set()
            await traffic
            truth = [(fp, n) for fp in (1, 2) for n in range(1, pump.model.fp_view(fp).transaction_number + 1)]
            async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
                recorded: list[tuple[int, int]] = []
                for _ in range(150):
                    recorded = [tuple(r) for r in await (await conn.execute(  # type: ignore[misc]
                        "SELECT fuelling_point, transaction_no FROM business.fuelling_transactions")).fetchall()]
                    if len(recorded) >= len(truth) and not _unsent(outbox)[0]:
                        break
                    await asyncio.sleep(0.2)
                await asyncio.sleep(1.0)
                while_dead = (await (await conn.execute(
                    "SELECT count(*) FROM business.fuelling_transactions WHERE ended_at BETWEEN %s AND %s",
                    (killed_at.replace(microsecond=0), restarted_at))).fetchone())[0]  # type: ignore[index]
                stored = {(d, n, int(ts.timestamp() * 1000)) for d, n, ts in await (await conn.execute(
                    """SELECT m.device, m.name, p.ts FROM telemetry.points p
                       JOIN telemetry.metrics m USING (metric_id)""")).fetchall()}
        finally:
            stop.set()
            paid_up.set()
            await asyncio.gather(traffic, cashier, return_exceptions=True)
            edge.send_signal(signal.SIGINT)
            edge.wait(20)
            for s in services:
                s.cancel()
            await asyncio.gather(*services, return_exceptions=True)
    output = log.read_text(errors="replace")
    assert killed_at and len(truth) >= 6, f"a busy minute has many fuellings: {truth}\n{output}"
    lost = [p for p in pending if p not in stored]
    assert lost == [], f"{len(lost)} of {len(pending)} readings queued at the kill never arrived\n{output}"
    assert sorted(recorded) == sorted(truth), "every fuelling recorded exactly once"
    assert len(recorded) == len(set(recorded))
    assert while_dead >= 2, "fuellings that ended while the edge was dead were recorded after the restart"
    assert "recovered fuelling" in output, "older fuellings were read back from the pump's buffer"
    assert "rows to replay" in output
