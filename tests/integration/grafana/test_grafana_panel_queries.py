"""Every panel's SQL, expanded the way Grafana expands it, against a real database.

The database is filled through the real path (dispenser simulator → edge node → MQTT → ingest and the
business consumer), plus tank gauge, gas detector, gas skid and charger points written with
``TelemetryWriter`` for metrics that have no simulator path in this test. Then every variable and
panel query of every dashboard runs at three panel intervals (raw points, 1 min and 1 h rollups)
and must return the columns, in the kinds, its panel needs; the same queries must also come back
well-typed, and empty, from a database with nothing in it.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import aiomqtt
import psycopg
import pytest

from business_services.consumer import EventConsumer
from edge_nodes.runtime import EdgeNode
from grafana.dashboards import DASHBOARDS
from grafana.verify import QueryResult, run_dashboard
from simulators.dispenser.states import FpState
from telemetry.alarms.engine import AlarmEngine
from telemetry.alarms.rules import DEFAULT_FILE
from telemetry.contracts import topics
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.topics import MessageType
from telemetry.ingest.worker import IngestWorker
from telemetry.records import MetricDef, PointRow, SourceStatus
from telemetry.storage import rollups
from telemetry.storage.repository import TelemetryWriter
from tests.support.station import dispenser, sell, station_for

pytestmark = pytest.mark.integration

STATION, OTHER = "gf-01", "gf-02"
CHOSEN = {"forecourt-station": {"station": STATION},
          "forecourt-tank": {"station": STATION, "gauge": "tls-01", "tank": "tank1"},
          "forecourt-quality": {"station": (STATION, OTHER)},
          "forecourt-fleet": {"station": (STATION, OTHER)},
          "forecourt-gas": {"station": STATION, "skid": "skid-01"}}
#: Grafana's panel interval picks the source in grafana.sql.SERIES: raw points, 1 min rollup, 1 h rollup
INTERVALS = (timedelta(seconds=10), timedelta(minutes=5), timedelta(hours=2))


async def _run_all(conn: psycopg.AsyncConnection, now: datetime, interval: timedelta,
                   timescaledb: bool = False) -> dict[tuple[str, str], QueryResult]:
    out = {}
    for d in DASHBOARDS:
        for r in await run_dashboard(conn, d, start=now - timedelta(hours=3), end=now + timedelta(minutes=5),
                                     interval=interval, chosen=CHOSEN[d.uid], timescaledb=timescaledb):
            out[(d.uid, r.title)] = r
    return out


def _problems(results: dict[tuple[str, str], QueryResult]) -> list[str]:
    return [f"{uid} / {title}: {p}\n    {r.sql}" for (uid, title), r in results.items() for p in r.problems]


# --- filling the database -------------------------------------------------------------------------

@contextlib.asynccontextmanager
async def _running(*services: IngestWorker | EventConsumer | EdgeNode) -> AsyncIterator[None]:
    """Run the services; stop them in the order given (ingest first, so the edge node's NDEATH is not stored)."""
    tasks = [asyncio.create_task(s.run()) for s in services]
    try:
        yield
    finally:
        for t in tasks:
            t.cancel()
            await asyncio.gather(t, return_exceptions=True)



async def _value(conn: psycopg.AsyncConnection, sql: str) -> object:
    row = await (await conn.execute(sql)).fetchone()  # type: ignore[arg-type]
    return row[0] if row else None


async def _fill_through_the_real_path(database_url: str, broker: BrokerAddress, group: str) -> None:
    async with dispenser(speed=4.0) as server:
        node = EdgeNode(station_for(server, code=STATION, poll_s=0.1), broker, group=group)
        ingest = IngestWorker(database_url, broker, group=group, client_id=f"i-{group}")
        business = EventConsumer(database_url, broker, client_id=f"b-{group}", group=group)
        async with _running(ingest, business, node), \
                await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            await asyncio.wait_for(asyncio.gather(ingest.subscribed.wait(), business.subscribed.wait(),
                                                  node.connected.wait()), 15)
            await sell(server, 200)
            async with aiomqtt.Client(**broker.client_kwargs()) as pub:   # garbage: a dead letter
                await pub.publish(topics.device_topic(group, MessageType.DDATA, STATION, "junk"), b"\x00\xffjunk",
                                  qos=1)
            checks = ("SELECT count(*) = 1 FROM business.fuelling_transactions WHERE station = 'gf-01'",
                      "SELECT count(*) = 1 FROM telemetry.dead_letters",
                      """SELECT l.value = 3 FROM telemetry.latest l          -- 3: IFSF idle
                         JOIN telemetry.metrics m USING (metric_id) WHERE m.name = 'fp1/state'""")
            for _ in range(200):
                done = all([await _value(conn, sql) for sql in checks])
                if done:
                    break
                await asyncio.sleep(0.1)
            assert done, "the fuelling, the dead letter and the idle pump never all reached the database"


def _defs() -> list[MetricDef]:
    tank = [(f"tank{n}/{name}", "DOUBLE", unit) for n in (1, 2) for name, unit in (
        ("volume", "L"), ("tc_volume", "L"), ("ullage", "L"), ("height", "mm"), ("water", "mm"),
        ("temperature", "°C"), ("last_delivery_volume", "L"))] + [(f"tank{n}/alarms", "STRING", None) for n in (1, 2)]
    rows = [(STATION, "tls-01", *t) for t in tank] + [
        (STATION, "lel-01", "concentration", "DOUBLE", "%LEL"), (STATION, "lel-01", "status", "UINT16", None),
        (STATION, "skid-01", "compressor/discharge_pressure", "DOUBLE", "MPa_g"),
        (STATION, "skid-01", "cascade/low/pressure", "DOUBLE", "MPa_g"),
        (STATION, "skid-01", "compressor/stop_pressure", "DOUBLE", "MPa_g"),
        *((STATION, "skid-01", name, datatype, unit) for name, datatype, unit in GAS_SKID_METRICS),   # forecourt-gas
        (STATION, "chargers", "chg-01/1/status", "STRING", None),
        (STATION, "chargers", "chg-01/1/power", "DOUBLE", "kW"),
        (STATION, "chargers", "chg-01/1/energy", "DOUBLE", "kWh"),
        (STATION, "chargers", "chg-01/1/soc", "DOUBLE", "%"),
        (OTHER, "tls-01", "tank1/volume", "DOUBLE", "L"), (OTHER, "tls-01", "tank1/ullage", "DOUBLE", "L")]
    return [MetricDef("g", station, device, name, datatype, unit) for station, device, name, datatype, unit in rows]


GAS_SKID_METRICS = (("lng_tank/pressure", "DOUBLE", "MPa_g"), ("compressor/state", "INT32", None),
                    ("compressor/suction_pressure", "DOUBLE", "MPa_g"), ("cng1/active_bank", "INT32", None),
                    ("cascade/mid/pressure", "DOUBLE", "MPa_g"), ("cascade/high/pressure", "DOUBLE", "MPa_g"))


def _gas_skid(i: int) -> list[tuple[str, float]]:
    """Step ``i`` of the gas skid: the LNG tank warming, the compressor on for 3 steps in 5, a fill every 4."""
    return [("lng_tank/pressure", 0.6 + 0.002 * i), ("compressor/state", 2.0 if i % 5 < 3 else 0.0),
            ("compressor/suction_pressure", 0.4), ("cng1/active_bank", float(i % 4)),
            ("cascade/mid/pressure", 22.0 - (i % 3) / 10), ("cascade/high/pressure", 24.5 - (i % 2) / 10)]


def _points(now: datetime) -> list[PointRow]:
    """Two hours every 5 minutes; tank 1 sells 100 L per step and once loses its gauge; tank 2's probe fails
    at the end."""
    out = []

    def point(station: str, device: str, name: str, at: datetime, value: float | str | None,
              quality: str = "good", reason: str | None = None) -> None:
        text = value if isinstance(value, str) else None
        number = None if isinstance(value, str) else value
        out.append(PointRow(station, device, name, at, number, text, quality, reason, False))

    for i in range(25):
        at = now - timedelta(minutes=5 * (24 - i))
        for n, start in ((1, 20_000.0), (2, 12_000.0)):
            volume = start - 100 * i
            for name, value in (("volume", volume), ("tc_volume", volume * 0.995), ("ullage", 30_000 - volume),
                                ("height", volume / 15), ("water", 12.0), ("temperature", 18.5)):
                probe_out = n == 2 and i == 24 and name == "height"
                lost = n == 1 and i == 10 and name == "temperature"
                point(STATION, "tls-01", f"tank{n}/{name}", at, None if probe_out or lost else value,
                      "bad" if probe_out or lost else "good",
                      "sensor-fault" if probe_out else "comm-loss" if lost else None)
        point(STATION, "lel-01", "concentration", at, 3.0 + i % 3)
        point(STATION, "skid-01", "compressor/discharge_pressure", at, 24.0 + (i % 5) / 10)
        point(STATION, "skid-01", "cascade/low/pressure", at, 18.0 + (i % 4) / 10)
        point(STATION, "skid-01", "compressor/stop_pressure", at, 25.0)
        for name, value in _gas_skid(i):
            point(STATION, "skid-01", name, at, value)
        point(OTHER, "tls-01", "tank1/volume", at, 9_000.0 - 50 * i)
        point(OTHER, "tls-01", "tank1/ullage", at, 21_000.0 + 50 * i)
    start = now - timedelta(hours=2)
    for minutes, alarms in ((0, ""), (30, "high-water-warning"), (60, "")):
        point(STATION, "tls-01", "tank1/alarms", start + timedelta(minutes=minutes), alarms)
    point(STATION, "tls-01", "tank2/alarms", start, "")
    point(STATION, "tls-01", "tank1/last_delivery_volume", start + timedelta(minutes=40), 8_000.0)
    point(STATION, "lel-01", "status", start, 0.0)
    point(STATION, "lel-01", "status", now, 2.0)                          # AL1
    for name, value in (("status", "Charging"), ("power", 60.0), ("energy", 1234.5), ("soc", 55.0)):
        point(STATION, "chargers", f"chg-01/1/{name}", now, value)
    return out


async def _write_other_devices(database_url: str, now: datetime) -> None:
    writer = TelemetryWriter()
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        async with conn.transaction():
            await writer.metric_ids(conn, _defs())
            await writer.write_points(conn, _points(now))
            await writer.set_status(conn, [SourceStatus("g", STATION, d, True, d == "lel-01", "stale" if d == "lel-01"
                                                        else None) for d in ("tls-01", "lel-01", "skid-01",
                                                                             "chargers")])
            await writer.set_status(conn, [SourceStatus("g", OTHER, "tls-01", True, False, None),
                                           SourceStatus("g", OTHER, "", False, True, "NDEATH")])
            await conn.execute(
                """INSERT INTO business.fuelling_transactions (event_id, station, pump, fuelling_point, nozzle, grade,
                       transaction_no, volume_l, amount_fen, price_fen_per_l, totalizer_before_l, totalizer_after_l,
                       started_at, ended_at)
                   VALUES ('gf-02-1', %s, 'disp-01', 1, 1, 95, 1, 30.00, 25080, 836, 100, 130, %s, %s)""",
                (OTHER, now - timedelta(minutes=50), now - timedelta(minutes=48)))
        if await rollups.is_timescale(conn):
            await conn.set_autocommit(True)
            for view in ("telemetry.points_1m", "telemetry.points_1h"):
                await conn.execute(f"CALL refresh_continuous_aggregate('{view}', NULL, NULL)")  # type: ignore[arg-type]
        else:
            async with conn.transaction():
                await rollups.refresh(conn, now - timedelta(hours=4))
    # the alarm engine over what was written, with the shipped rules: the stale detector, the dead node (issue 17)
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        engine = AlarmEngine(database_url, group="g", rules_file=DEFAULT_FILE)
        await engine.load_rules(conn)
        for later_s in (0, 40):
            await engine.evaluate(conn, now=now + timedelta(seconds=later_s))


# --- the tests ------------------------------------------------------------------------------------

async def test_every_panel_returns_what_it_needs_from_a_filled_database(
        database_url: str, broker: BrokerAddress, group: str) -> None:
    await _fill_through_the_real_path(database_url, broker, group)
    now = datetime.now(UTC)
    await _write_other_devices(database_url, now)
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        timescale = await rollups.is_timescale(conn)
        for interval in INTERVALS:
            for flag in (False, True) if timescale else (False,):
                results = await _run_all(conn, now, interval, timescaledb=flag)
                assert _problems(results) == [], "\n".join(_problems(results))
                empty = [f"{uid} / {title}" for (uid, title), r in results.items() if not r.rows]
                assert empty == [], f"at interval {interval} these returned no rows: {empty}"
        results = await _run_all(conn, now, INTERVALS[0])

    def table(uid: str, title: str) -> list[dict[str, object]]:
        r = results[(uid, title)]
        return [dict(zip(r.names, row, strict=True)) for row in r.rows]

    assert [r[0] for r in results[("forecourt-fleet", "$station")].rows] == [STATION, OTHER]
    assert [r[0] for r in results[("forecourt-tank", "$tank")].rows] == ["tank1", "tank2"]
    pumps = table("forecourt-station", "加油点状态")
    assert [(p["device"], p["fuelling_point"], p["state"], p["quality"]) for p in pumps] == [
        ("disp-01", "fp1", FpState.IDLE, "good")]
    [fuelling] = table("forecourt-station", "加油汇总")
    assert (fuelling["fuellings"], float(fuelling["volume_l"])) == (1, 2.00)  # type: ignore[arg-type]
    [inventory] = table("forecourt-tank", "当前库存")
    assert inventory["volume"] == 20_000 - 2400 and inventory["fill_pct"] == pytest.approx(100 * 17_600 / 30_000)
    tanks = {(t["tank"], t["quality"], t["height"]) for t in table("forecourt-station", "油罐库存")}
    assert tanks == {("tank1", "good", 17_600 / 15), ("tank2", "bad", None)}
    assert set(results[("forecourt-station", "油罐体积")].column("metric")) == {"tls-01 tank1", "tls-01 tank2"}
    assert set(results[("forecourt-station", "燃气压力")].column("metric")) == {
        "skid-01 compressor/discharge_pressure", "skid-01 cascade/low/pressure", "skid-01 compressor/suction_pressure",
        "skid-01 cascade/mid/pressure", "skid-01 cascade/high/pressure", "skid-01 lng_tank/pressure"}, \
        "setpoints are not pressures"
    [held] = table("forecourt-gas", "LNG 保压时间")                  # 2 kPa per 5 min, 0.648 MPa g at the end
    assert held["rise_kpa_h"] == pytest.approx(24.0) and held["hours_to_relief"] == pytest.approx(0.452 / 0.024)
    usage = {u["bank"]: u["supplies"] for u in table("forecourt-gas", "储气井组使用")}
    assert usage == {"低压组 low": 6, "中压组 mid": 6, "高压组 high": 6}
    [charger] = table("forecourt-station", "充电桩状态")
    assert (charger["charger"], charger["connector"], charger["status"], charger["power"]) == ("chg-01", 1,
                                                                                             "Charging", 60.0)
    [detector] = table("forecourt-station", "可燃气体探测器")
    assert (detector["concentration"], detector["state"]) == (3.0, "一级报警")
    stations = {s["station"]: s for s in table("forecourt-fleet", "站点一览")}
    assert stations[STATION]["online"] is True and stations[OTHER]["online"] is False
    assert float(stations[STATION]["volume_l"]) == 2.00 and float(stations[OTHER]["volume_l"]) == 30.00  # type: ignore[arg-type]
    alarms = {(a["station"], a["device"], a["alarm"]) for a in table("forecourt-fleet", "当前报警")}
    assert alarms == {(STATION, "lel-01", "一级报警"), (OTHER, "", "离线 offline")}
    assert table("forecourt-quality", "死信")[0]["dead_letters"] == 1
    freshness = {(f["station"], f["device"]): f for f in table("forecourt-quality", "设备新鲜度")}
    assert freshness[(STATION, "lel-01")]["stale"] is True and freshness[(STATION, "disp-01")]["online"] is True
    assert [a["alarms"] for a in table("forecourt-tank", "报警记录")] == ["(已清除)", "high-water-warning", "(已清除)"]
    assert [(b["point"], b["reason"]) for b in table("forecourt-tank", "坏质量读数")] == [("temperature", "comm-loss")]


@pytest.mark.parametrize("interval", INTERVALS, ids=["raw", "1m-rollup", "1h-rollup"])
async def test_every_panel_is_well_typed_on_an_empty_database(database_url: str, interval: timedelta) -> None:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        results = await _run_all(conn, datetime.now(UTC), interval)
    assert _problems(results) == [], "\n".join(_problems(results))
    series = [r for (uid, _), r in results.items() if "time" in r.names and not r.title.startswith("$")]
    assert series and all(not r.rows for r in series), "no data, no points"
