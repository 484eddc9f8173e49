"""A tank's reconciliation from real telemetry: the tank-gauge simulator, the edge node, Mosquitto and ingest
into the station server's database; the fuellings as the business consumer records them.

Over one period the tank sells 300 L (a fuelling with its totalizers), takes a 5000 L tanker drop (a delivery
note invoiced 5030 L at 20 °C: 30 L road loss, over the winter tolerance) and loses 100 L nobody sold (a leak
or theft): the reconciliation finds the delivery in the gauge's data, matches the note, and books a station loss
over the tolerance — both alarm conditions raised. Recomputing the same period changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from business_services.audit.model import Actor
from business_services.inventory import views
from business_services.inventory.handlers import reconcile_period
from business_services.inventory.model import DeliveryRule
from business_services.unit_of_work import UnitOfWork
from edge_nodes.runtime import EdgeNode
from edge_nodes.station import load_station
from simulators.clock import ManualClock
from simulators.tank_gauge import TankGaugeConfig, TankGaugeServer
from simulators.tank_gauge.config import TankConfig
from telemetry.alarms.engine import AlarmEngine, Where
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.vcf import vcf20
from telemetry.ingest.worker import IngestWorker
from tests.integration.inventory.support import add_fuelling, seed_station

pytestmark = pytest.mark.integration

STATION = "st-wet"
RULES = Path(__file__).parents[3] / "config" / "alarm-rules.yaml"
EDGE = """
station: st-wet
devices:
  - code: atg-01
    protocol: tls
    host: 127.0.0.1
    port: {port}
    tanks: [1]
    poll_interval_s: 0.1
    timeout_s: 0.5
"""
TANK = TankConfig(number=1, label="92#汽油", grade_id=92, initial_volume_l=15_000.0, temperature_c=18.0,
                  ground_temperature_c=18.0, density_20=737.0, height_noise_mm=0.0, temperature_noise_c=0.0)
# The test runs minutes of tank physics in seconds of wall time (the edge stamps readings with its own clock):
# a delivery has ended once the level has been still for 1.5 s here.
RULE = DeliveryRule(settle=timedelta(seconds=1.5))


@contextlib.asynccontextmanager
async def _running(*coroutines: object) -> AsyncIterator[None]:
    tasks = [asyncio.create_task(c) for c in coroutines]  # type: ignore[arg-type]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _gauge_volume(conn: psycopg.AsyncConnection) -> float | None:
    cur = await conn.execute(
        "SELECT p.value FROM telemetry.points p JOIN telemetry.metrics m USING (metric_id)"
        " WHERE m.station = %s AND m.name = 'tank1/volume' ORDER BY p.ts DESC LIMIT 1", (STATION,))
    row = await cur.fetchone()
    return None if row is None else float(row[0])


async def _settled_at(conn: psycopg.AsyncConnection, litres: float, within_s: float = 15) -> None:
    """Wait until ingest has committed a gauge reading of about ``litres``."""
    async with asyncio.timeout(within_s):
        while (v := await _gauge_volume(conn)) is None or abs(v - litres) > 1.0:
            await asyncio.sleep(0.05)


async def test_a_period_with_sales_a_delivery_and_a_loss(station_database_url: str, broker: BrokerAddress,
                                                         group: str, tmp_path: Path) -> None:
    clock = ManualClock()
    config = TankGaugeConfig(tanks=(TANK,), tcp_port=0, serial=False)
    async with TankGaugeServer(config, clock, port=0) as gauge, \
            await psycopg.AsyncConnection.connect(station_database_url, autocommit=True) as conn:
        await seed_station(conn, STATION, [(1, "92", 30_000.0)], [("disp-01", 1, 1, "92")], group)
        path = tmp_path / "station.yaml"
        path.write_text(EDGE.format(port=gauge.port), encoding="utf-8")
        node = EdgeNode(load_station(path), broker, group=group)
        worker = IngestWorker(station_database_url, broker, group=group, client_id=f"ingest-{group}",
                              rollup_every_s=0)
        async with _running(worker.run(), node.run()):
            await _settled_at(conn, gauge.reading(1).volume_l, within_s=20)
            opening_observed = gauge.reading(1).volume_l
            await asyncio.sleep(0.3)
            start = datetime.now(UTC)
            await asyncio.sleep(0.3)

            gauge.draw(1, 300.0)                                   # a sale …
            await add_fuelling(conn, STATION, 1, 300.0, 1_000.0, datetime.now(UTC))   # … and its fuelling
            await _settled_at(conn, opening_observed - 300.0)
            await asyncio.sleep(0.3)

            await conn.execute(
                "INSERT INTO business.inventory_delivery_notes (station, note_no, tank, supplier, carrier, vehicle,"
                " arrived_at, invoiced_l_20, recorded_by) VALUES (%s, 'XC-0001', 1, '中石化', '顺达物流', '沪A12345',"
                " %s, 5030, 'test')", (STATION, datetime.now(UTC)))
            gauge.start_delivery(1, 5_000.0, 18.0, rate_l_min=600.0)
            for _ in range(12):                                    # 600 s of flow, 50 s a step
                gauge.clock.advance(50.0)                          # type: ignore[attr-defined]
                await asyncio.sleep(0.15)
            await _settled_at(conn, opening_observed - 300.0 + 5_000.0)
            await asyncio.sleep(2.0)                               # still: the drop has ended (RULE.settle)

            gauge.draw(1, 100.0)                                   # 100 L gone, nobody sold them
            await _settled_at(conn, opening_observed - 300.0 + 5_000.0 - 100.0)
            await asyncio.sleep(0.3)
            end = datetime.now(UTC)

        async with UnitOfWork(conn, Actor.system("test")) as uow:
            (result,) = await reconcile_period(uow, STATION, "shift", "st-wet-20261204-S00001", start, end, RULE)

        vcf = vcf20(18.0, 737.0)
        assert result.opening_l == pytest.approx(opening_observed * vcf, abs=1.0)
        assert result.deliveries_l == pytest.approx(5_000.0 * vcf, abs=2.0)
        assert result.sales_observed_l == pytest.approx(300.0)           # the fuelling's totalizers
        assert result.variance_l == pytest.approx(-100.0 * vcf, abs=2.0)
        assert result.exceeded and result.status == "exceeded"
        assert result.arts.transactions_l == pytest.approx(300.0)
        assert result.arts.tank_meters_l == pytest.approx(400.0, abs=2.0)   # the gauge saw 400 L leave

        (delivery,) = await views.detected_deliveries(conn, STATION, start, end)
        assert delivery["note_no"] == "XC-0001"
        assert delivery["road_loss_l"] == pytest.approx(5_030.0 - 5_000.0 * vcf, abs=2.0)
        assert delivery["exceeded"] is True                                # 0.15 % of 5030 L is 7.5 L
        conditions = {c["rule"]: c for c in await views.conditions(conn, STATION)}
        assert conditions["inventory.station_loss"]["active"] is True
        assert conditions["inventory.road_loss"]["active"] is True

        async with UnitOfWork(conn, Actor.system("test")) as uow:         # again: the same rows, nothing added
            await reconcile_period(uow, STATION, "shift", "st-wet-20261204-S00001", start, end, RULE)
        counts = await (await conn.execute(
            "SELECT (SELECT count(*) FROM business.inventory_reconciliations),"
            " (SELECT count(*) FROM business.inventory_deliveries),"
            " (SELECT count(*) FROM business.inventory_conditions),"
            " (SELECT count(*) FROM business.outbox WHERE payload->>'type' = 'inventory.reconciled')")).fetchone()
        assert counts == (1, 1, 2, 1)                                     # the result went up once
        report = await views.report(conn, STATION, "shift", "st-wet-20261204-S00001")
        assert report is not None and report["tanks"][0]["status"] == "exceeded"

        # the station's alarm engine raises both, from the shipped rules (config/alarm-rules.yaml)
        engine = AlarmEngine(station_database_url, group=group, where=Where(role="station", own_station=STATION),
                             rules_file=RULES)
        await engine.load_rules(conn)
        await engine.evaluate(conn)
        alarms = await (await conn.execute(
            "SELECT rule, source, state, message FROM alarms.alarms WHERE station = %s AND closed_at IS NULL"
            " ORDER BY rule", (STATION,))).fetchall()
        assert [(a[0], a[1]) for a in alarms] == [("inventory.road_loss", "tank-1/XC-0001"),
                                                  ("inventory.station_loss", "tank-1/shift")]
