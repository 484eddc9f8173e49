"""Issue 4's outage test: the broker is away for 60 s while a station is polled at 1 Hz and keeps fuelling.

Afterwards every reading the edge node took and every fuelling transaction of those 60 s is in the
database exactly once, with its source timestamp, and the replayed readings carry the historical flag.
"""

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from business_services.consumer import EventConsumer
from edge_nodes.runtime import EdgeNode
from edge_nodes.station import Station
from forecourt.local import LocalBroker
from protocol_adapters.readings import Reading
from telemetry.ingest.worker import IngestWorker
from tests.support.station import dispenser, sell, station_for

pytestmark = [pytest.mark.integration, pytest.mark.serial]

OUTAGE_S = 60



async def test_a_minute_without_broker_loses_and_doubles_nothing(database_url: str, group: str,
                                                                  tmp_path: Path) -> None:
    if not __import__("shutil").which("mosquitto"):
        pytest.skip("needs mosquitto on PATH to stop and restart a broker")
    broker = LocalBroker(tmp_path / "broker")
    address = await broker.start()
    recorded: list[tuple[str, Reading]] = []
    async with dispenser(speed=4.0) as d1, dispenser(speed=4.0) as d2:
        s1, s2 = station_for(d1, poll_s=1.0), station_for(d2, poll_s=1.0)
        station = Station(station="st-sf", devices=[s1.devices[0],
                                                    s2.devices[0].model_copy(update={"code": "disp-02"})])
        node = EdgeNode(station, address, group=group, primary_host=f"host-{group}",
                        outbox_path=tmp_path / "outbox.sqlite")
        put = node.outbox.put_readings

        async def spy(device: str, readings: list[Reading]) -> None:
            recorded.extend((device, r) for r in readings)
            await put(device, readings)

        node.outbox.put_readings = spy  # type: ignore[method-assign]
        ingest = IngestWorker(database_url, address, group=group, client_id=f"i-{group}", host_id=f"host-{group}")
        business = EventConsumer(database_url, address, client_id=f"b-{group}")
        tasks = [asyncio.create_task(t.run()) for t in (ingest, business, node)]
        try:
            await asyncio.wait_for(node.connected.wait(), 15)
            await sell(d1, 300, fp=1)                                  # one fuelling while connected
            await asyncio.sleep(1.5)

            await broker.stop()
            outage_start = datetime.now(UTC)
            await asyncio.gather(sell(d1, 250, fp=1), sell(d2, 400, fp=1))   # fuelling goes on meanwhile
            await asyncio.gather(sell(d1, 150, fp=1), sell(d2, 100, fp=1))
            await asyncio.sleep(max(0.0, OUTAGE_S - (datetime.now(UTC) - outage_start).total_seconds()))
            outage_end = datetime.now(UTC)
            assert not node.connected.is_set()
            await broker.start(port=address.port)

            async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
                for _ in range(300):
                    rows, _ = await node.outbox.size()
                    fuellings = (await (await conn.execute(
                        "SELECT count(*) FROM business.fuelling_transactions")).fetchone())[0]  # type: ignore[index]
                    if node.connected.is_set() and rows == 0 and fuellings == 5:
                        break
                    await asyncio.sleep(0.2)
                await asyncio.sleep(1.0)   # let ingest commit the last batch
                await _check_points(conn, recorded, outage_start, outage_end)
                await _check_transactions(conn)
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await broker.stop()


async def _check_points(conn: psycopg.AsyncConnection, recorded: list[tuple[str, Reading]],
                        start: datetime, end: datetime) -> None:
    during = [(d, r) for d, r in recorded if start <= r.source_time <= end]
    assert len(during) > 100, "the edge kept reading during the outage"
    stored = {(device, name, ts): (value, quality, historical) for device, name, ts, value, quality, historical in
              await (await conn.execute(
                  """SELECT m.device, m.name, p.ts, p.value, p.quality, p.historical
                     FROM telemetry.points p JOIN telemetry.metrics m USING (metric_id)
                     WHERE p.ts BETWEEN %s AND %s""", (start, end))).fetchall()}
    missing = [(d, r.key, r.source_time) for d, r in during
               if (d, r.key, r.source_time.replace(microsecond=r.source_time.microsecond // 1000 * 1000))
               not in stored]
    assert missing == [], f"{len(missing)} readings of the outage never reached the database"
    assert len(stored) == len(during), "a reading was stored twice or one was invented"
    assert all(historical for _, _, historical in stored.values()), "replayed readings carry the historical flag"
    volumes = [v for (d, name, _), (v, _, _) in stored.items() if name == "fp1/volume" and v]
    assert max(volumes) >= 2.5


async def _check_transactions(conn: psycopg.AsyncConnection) -> None:
    rows = await (await conn.execute(
        """SELECT pump, fuelling_point, volume_l, amount_fen, totalizer_after_l - totalizer_before_l
           FROM business.fuelling_transactions ORDER BY pump, started_at""")).fetchall()
    volumes = sorted((pump, fp, float(v)) for pump, fp, v, _, _ in rows)
    assert volumes == [("disp-01", 1, 1.5), ("disp-01", 1, 2.5), ("disp-01", 1, 3.0),
                       ("disp-02", 1, 1.0), ("disp-02", 1, 4.0)]
    assert all(float(delta) == float(v) for _, _, v, _, delta in rows)
    assert {a for _, _, v, a, _ in rows if float(v) == 3.0} == {round(3.0 * 789)}
