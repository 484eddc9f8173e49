"""Issue 12 item 5, the drill: the edge node is killed while more cars fuel than the pump can buffer.

The pump keeps 4 transactions per side and, like a pump left to run on its own when its controller
is away, goes on selling: the cashier is paid at the counter and clears each sale at once, so the
oldest records are overwritten before the edge can read them. After the restart every fuelling is
either in the database or inside a recorded gap whose litres are the totalizer difference: per nozzle,
recorded litres plus gap litres equal the totalizer's movement, and no transaction number is unaccounted.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import urllib.request
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from business_services.consumer import EventConsumer
from forecourt.local import free_port
from simulators.dispenser.config import DispenserConfig, FuellingPointConfig, NozzleConfig
from simulators.dispenser.server import DispenserServer
from simulators.dispenser.states import FpState, PresetType
from telemetry.contracts.broker import BrokerAddress
from tests.support.station import dispenser

pytestmark = [pytest.mark.e2e, pytest.mark.serial]

PUMP = DispenserConfig(fuelling_points=[
    FuellingPointConfig(nozzles=[NozzleConfig(grade_id=92, price_fen=789, initial_volume_total_cl=5_000_000)]),
    FuellingPointConfig(nozzles=[NozzleConfig(grade_id=95, price_fen=836, initial_volume_total_cl=7_000_000)])],
    buffer_size=4, unpaid_limit=2)
INITIAL_CL = {1: 5_000_000, 2: 7_000_000}
SALES_CL = {1: [200, 350, 120, 180], 2: [150, 90, 400, 260]}


def _start_edge(env: dict[str, str], station: Path, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "forecourt.cli", "edge", "--station", str(station)], env=env,
                            stdout=log.open("ab"), stderr=subprocess.STDOUT, cwd=Path(__file__).parents[2])


async def _cars(pump: DispenserServer, stop: asyncio.Event, sold: dict[tuple[int, int], int]) -> None:
    """A car after another on both sides; each pays at once (the cashier clears the sale on the pump)."""
    model = pump.model

    async def side(fp: int) -> None:
        i = 0
        while not stop.is_set():
            pump.catch_up()
            model.lift_nozzle(fp, 1)
            while model.authorise(fp, PresetType.VOLUME, SALES_CL[fp][i % 4], 1) != 0:
                await asyncio.sleep(0.05)
                pump.catch_up()
            while model.fp_view(fp).state in (FpState.AUTHORISED, FpState.STARTED, FpState.FUELLING):
                await asyncio.sleep(0.05)
                pump.catch_up()
            model.hang_nozzle(fp, 1)
            latest = model.transactions(fp)[-1]
            sold[(fp, latest.number)] = latest.volume_cl
            model.clear(fp, latest.number)
            i += 1

    await asyncio.gather(side(1), side(2))


async def _wait_for(predicate: object, within_s: float) -> bool:
    for _ in range(int(within_s / 0.2)):
        if await predicate():  # type: ignore[operator]
            return True
        await asyncio.sleep(0.2)
    return False


async def test_every_fuelling_is_recorded_or_inside_a_gap_with_its_litres(database_url: str, broker: BrokerAddress,
                                                                          group: str, tmp_path: Path) -> None:
    sold: dict[tuple[int, int], int] = {}
    metrics_port = free_port()
    async with dispenser(PUMP, speed=8.0) as pump:
        station = tmp_path / "station.yaml"
        station.write_text(f"station: st-drill\ndevices:\n  - code: disp-01\n    port: {pump.port}\n"
                           "    profile: dispenser-v1\n    fuelling_points: 2\n    poll_interval_s: 0.25\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith("FORECOURT_")}
        env.update(FORECOURT_MQTT_URL=broker.url(), FORECOURT_MQTT_V5="true" if broker.mqtt5 else "false",
                   FORECOURT_GROUP=group, FORECOURT_PRIMARY_HOST_ID="", FORECOURT_DATA_DIR=str(tmp_path / "data"),
                   FORECOURT_EDGE_METRICS_PORT=str(metrics_port))
        log = tmp_path / "edge.log"
        business = EventConsumer(database_url, broker, client_id=f"b-{group}", group=group)
        consumer = asyncio.create_task(business.run())
        stop = asyncio.Event()
        edge = _start_edge(env, station, log)
        traffic: asyncio.Task[None] | None = None
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            try:
                assert await _wait_for(lambda: _online(log), 30), log.read_text(errors="replace")
                traffic = asyncio.create_task(_cars(pump, stop, sold))
                await asyncio.sleep(4)
                edge.send_signal(signal.SIGKILL)
                edge.wait(10)
                at_kill = set(sold)                      # the edge is dead; the pump goes on selling
                await _wait_for(lambda: _more_than_kept(sold, at_kill), 60)
                sold_while_dead = {fp: sum(1 for f, _ in set(sold) - at_kill if f == fp) for fp in (1, 2)}
                edge = _start_edge(env, station, log)
                await asyncio.sleep(5)
                stop.set()
                await traffic
                await _wait_for(lambda: _all_accounted(conn, sold), 60)
                recorded = await _rows(conn, "SELECT fuelling_point, transaction_no, volume_l "
                                             "FROM business.fuelling_transactions")
                gaps = await _rows(conn, "SELECT fuelling_point, missing_transactions, volume_l, totalizer_from_l, "
                                         "totalizer_to_l, status FROM business.fuelling_gaps")
                with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as answer:
                    scraped = answer.read().decode()
            finally:
                stop.set()
                if traffic is not None:
                    await asyncio.gather(traffic, return_exceptions=True)
                edge.send_signal(signal.SIGINT)
                edge.wait(20)
                consumer.cancel()
                await asyncio.gather(consumer, return_exceptions=True)
        totalizers = {fp.number: fp.nozzles[0].volume_total_cl for fp in pump.model.view().fuelling_points}
    output = log.read_text(errors="replace")
    assert min(sold_while_dead.values()) > PUMP.buffer_size, f"more sales while dead than kept: {sold_while_dead}"
    numbers = [(fp, n) for fp, n, _ in recorded]
    assert len(numbers) == len(set(numbers)), "no fuelling recorded twice"
    for fp in (1, 2):
        recorded_cl = sum(int(v * 100) for f, _, v in recorded if f == fp)
        gap_cl = sum(int(v * 100) for f, _, v, _, _, _ in gaps if f == fp)
        assert recorded_cl + gap_cl == totalizers[fp] - INITIAL_CL[fp], f"fp{fp}: litres unaccounted\n{output}"
        missing = {n for f, ns, *_ in gaps if f == fp for n in ns}
        held = {n for f, n in numbers if f == fp}
        assert not missing & held
        assert missing | held == {n for f, n in sold if f == fp}, f"fp{fp}: a transaction number vanished"
        for f, ns, volume, *_ in gaps:
            if f == fp:      # one nozzle per side: the gap's litres are exactly its missing sales
                assert volume == Decimal(sum(sold[(fp, n)] for n in ns)) / 100
    assert gaps and all(g[5] == "open" for g in gaps), "gaps are recorded, open until the station settles them"
    gap_metric = [line for line in scraped.splitlines() if line.startswith("forecourt_edge_fuelling_gaps_total{")]
    assert gap_metric and sum(float(line.rsplit(" ", 1)[1]) for line in gap_metric) >= 1, scraped


async def _more_than_kept(sold: dict[tuple[int, int], int], at_kill: set[tuple[int, int]]) -> bool:
    """Each side has sold more than its buffer keeps (and two more) since the kill."""
    return all(sum(1 for f, _ in set(sold) - at_kill if f == fp) >= PUMP.buffer_size + 2 for fp in (1, 2))


async def _online(log: Path) -> bool:
    return log.exists() and "online at" in log.read_text(errors="replace")


async def _rows(conn: psycopg.AsyncConnection, sql: str) -> list[tuple[object, ...]]:
    return list(await (await conn.execute(sql)).fetchall())  # type: ignore[arg-type]


async def _all_accounted(conn: psycopg.AsyncConnection, sold: dict[tuple[int, int], int]) -> bool:
    held = {(fp, n) for fp, n in await _rows(conn, "SELECT fuelling_point, transaction_no "
                                                   "FROM business.fuelling_transactions")}
    missing = {(fp, n) for fp, ns in await _rows(conn, "SELECT fuelling_point, missing_transactions "
                                                       "FROM business.fuelling_gaps") for n in ns}  # type: ignore[attr-defined]
    return held | missing >= set(sold)
