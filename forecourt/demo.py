"""``forecourt demo``: one simulated station and everything it needs, in one process, with progress.

Database and broker (embedded unless configured), a dispenser simulator with cars arriving now and
then, the station's edge node, an ingest worker and the control API. Both roles run (docs/architecture.md
"Two roles"): head office on the API port with the demo station's master data imported, and the station
server on the next port with its own database (``<database>_station``), holding the master-data list its
edge node keeps and turning its own station's fuellings into orders (``station_business_service``: its
consumer and outbox publisher, and its own ingest of its edge node for the POS's live nozzles). Ctrl-C stops
all of it.
"""

from __future__ import annotations

import asyncio
import random
import secrets
from pathlib import Path

import psycopg

from business_services import jobs
from business_services.access.demo import DemoLogin, seed_demo_company
from control_api.security import TokenIssuer
from edge_nodes.runtime import EdgeNode
from edge_nodes.station import load_station
from forecourt.infra import Infrastructure
from forecourt.local import free_port
from forecourt.progress import Progress
from forecourt.roles import Role
from forecourt.runner import run_until_stopped
from forecourt.services import (
    api_service,
    business_service,
    edge_health,
    edge_metrics_text,
    ingest_health,
    ingest_metrics_text,
    master_data_path,
    outbox_path,
    run_with_health,
    station_business_service,
)
from forecourt.settings import Settings
from forecourt.simulate import DEMO_DISPENSER, drive_customers
from forecourt.stations import create_database, follow_list, seed_demo, station_database_url
from simulators.clock import SimClock
from simulators.dispenser.model import DispenserModel
from simulators.dispenser.server import DispenserServer
from telemetry.ingest.worker import IngestWorker

DEMO_STATION = Path(__file__).resolve().parent.parent / "config" / "stations" / "demo.yaml"


async def seed_logins(database_url: str) -> list[DemoLogin]:
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        return await seed_demo_company(conn)


def logins_text(logins: list[DemoLogin]) -> str:
    rows = "\n".join(f"  {d.username:<10} {d.password:<18} {d.role}  {','.join(d.units)}" for d in logins)
    return f"演示账号（每次启动重新生成密码）demo logins, fresh passwords each start:\n{rows}"


async def run_demo(settings: Settings, *, api_port: int, every_s: float) -> None:
    progress = Progress(Infrastructure.steps(settings, database=True, broker=True) + 2)
    async with Infrastructure(settings, progress=progress) as infra:
        clock = SimClock()
        model = DispenserModel(DEMO_DISPENSER, start=clock.now())
        with progress("启动加油机模拟器 (dispenser simulator, Modbus TCP)"):
            dispenser = DispenserServer(model, clock, port=free_port())
            await dispenser.start()
        try:
            station = load_station(DEMO_STATION)
            station_url = station_database_url(infra.database_url)          # the station server's own database
            await asyncio.to_thread(create_database, station_url)
            await seed_demo(infra.database_url, DEMO_STATION, settings.group)
            list_file = master_data_path(settings, station.station)
            tokens = TokenIssuer(settings.jwt_secret or secrets.token_urlsafe(32), settings.token_ttl_s)
            device = station.devices[0].model_copy(update={"port": dispenser.port})
            station = station.model_copy(update={"devices": [device]})
            node = EdgeNode(station, infra.broker, group=settings.group,
                            primary_host=settings.primary_host_id or None,
                            outbox_path=outbox_path(settings, station.station), master_data_path=list_file)
            worker = IngestWorker(infra.database_url, infra.broker, group=settings.group,
                                  share_group=settings.ingest_share_group, client_id="forecourt-demo-ingest",
                                  host_id=settings.primary_host_id or None)
            with progress("启动边缘节点、数据接入与控制 API (edge node, ingest, API)"):
                services = [
                    run_with_health(node.run(), settings.metrics_host, settings.edge_metrics_port,
                                    edge_metrics_text(station.station), lambda: edge_health(node)),
                    run_with_health(worker.run(), settings.metrics_host, settings.ingest_metrics_port,
                                    ingest_metrics_text, lambda: ingest_health(worker)),
                    api_service(infra.database_url, settings.api_host, api_port, infra.broker, settings.group,
                                tokens),
                    business_service(settings, infra.database_url, infra.broker),
                    api_service(station_url, settings.api_host, api_port + 1, infra.broker, settings.group,
                                tokens, Role.STATION),
                    follow_list(station_url, list_file),
                    station_business_service(settings, station_url, infra.broker, station.station),
                    jobs.work(station_url, name="station"),   # the station server's own housekeeping
                    drive_customers(dispenser, every_s, random.Random(1)),
                ]
            logins = await seed_logins(infra.database_url)
            base = f"http://{settings.api_host}:{api_port}"
            print(f"""
演示站 {station.station}（{station.name}）已启动 — the demo station is running:
  最新数据 latest values   {base}/api/v1/stations/{station.station}/devices/{device.code}/latest
  实时推送 live WebSocket  ws://{settings.api_host}:{api_port}/api/v1/stations/{station.station}/devices/{device.code}/stream
  API 文档 API docs        {base}/docs   (总部 head office)
  站级服务器 station server http://{settings.api_host}:{api_port + 1}/admin/   数据库 database {station_url}
  收银台 station POS        http://{settings.api_host}:{api_port + 1}/pos/   (收银员 cashier; docs/pos.md)
  加油记录 fuellings       {base}/api/v1/stations/{station.station}/fuelling-transactions
  健康检查 health          {base}/healthz   指标 metrics {base}/metrics
  加油机 dispenser         Modbus TCP 127.0.0.1:{dispenser.port} (docs/protocols/dispenser-modbus.md)
  MQTT 代理 broker          {infra.broker.url()}   数据库 database {infra.database_url}
  后台 back office          {base}/admin/   登录 log in: POST {base}/api/v1/auth/token
{logins_text(logins)}
车辆每约 {every_s:.0f} 秒到达一次并加油。按 Ctrl-C 停止全部服务 (Ctrl-C stops everything).
""", flush=True)
            await run_until_stopped(*services)
        finally:
            await dispenser.stop()
    print("演示已停止 (demo stopped).", flush=True)
