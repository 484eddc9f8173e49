"""``forecourt demo``: one simulated station and everything it needs, in one process, with progress.

Database and broker (embedded unless configured), a dispenser simulator with cars arriving now and
then, the station's edge node, an ingest worker and the control API. Both roles run (docs/architecture.md
"Two roles"): head office on the API port with the demo station's master data imported, and the station
server on the next port with its own database (``<database>_station``), holding the master-data list its
edge node keeps and turning its own station's fuellings into orders (``station_business_service``: its
consumer and outbox publisher, and its own ingest of its edge node for the POS's live nozzles). Online
payments: head office talks to the WeChat Pay and Alipay simulators with the real SDKs, and the station
server reaches head office with an API key of its own (docs/online-payments.md). Ctrl-C stops all of it.
"""

from __future__ import annotations

import asyncio
import random
import secrets
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import psycopg

from business_services.access.demo import DemoLogin, seed_demo_company
from business_services.audit.model import Actor
from business_services.bootstrap import build_bus
from business_services.online_payments.alipay import AlipayGateway
from business_services.online_payments.model import ProviderGateway
from business_services.online_payments.papay import PapayGateway
from business_services.online_payments.settings import AlipaySettings, WeChatSettings
from business_services.online_payments.station_keys import issue_station_key
from business_services.online_payments.wechat import WeChatGateway
from control_api.security import TokenIssuer
from edge_nodes.runtime import EdgeNode
from edge_nodes.station import load_station
from forecourt.alarms import AlarmService
from forecourt.demo_fleets import PLATE as FLEET_PLATE
from forecourt.demo_fleets import seed_demo_fleet
from forecourt.demo_members import H5_MEMBER, MEMBERS, seed_demo_members
from forecourt.infra import Infrastructure
from forecourt.local import free_port
from forecourt.progress import Progress
from forecourt.roles import Role, policy
from forecourt.runner import run_until_stopped
from forecourt.services import (
    api_service,
    asgi_service,
    business_service,
    edge_health,
    edge_metrics_text,
    ingest_health,
    ingest_metrics_text,
    master_data_path,
    messaging_config,
    mini_program,
    outbox_path,
    price_set_path,
    run_vision,
    run_with_health,
    station_business_service,
    station_payment_providers,
)
from forecourt.settings import Settings
from forecourt.simulate import DEMO_DISPENSER, drive_customers
from forecourt.station_prices import follow_price_set
from forecourt.stations import create_database, follow_list, seed_demo, seed_first_prices, station_database_url
from simulators.alipay.server import AlipaySim
from simulators.camera import CameraServer, CameraSetConfig
from simulators.clock import SimClock
from simulators.dispenser.model import DispenserModel
from simulators.dispenser.server import DispenserServer
from simulators.messaging.server import MessagingSim
from simulators.wechatpay.papay import PLAN_ID
from simulators.wechatpay.server import WeChatPaySim
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.events.payments import Method
from telemetry.ingest.worker import IngestWorker
from vision.cameras import CameraBinding
from vision.service import vision_for

DEMO_STATION = Path(__file__).resolve().parent.parent / "config" / "stations" / "demo.yaml"


async def seed_logins(database_url: str) -> list[DemoLogin]:
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        return await seed_demo_company(conn, build_bus(policy(Role.HEAD_OFFICE).contexts))   # lists go out


def provider_gateways(wechat: WeChatPaySim, wechat_url: str, alipay: AlipaySim, alipay_url: str,
                      head_office: str) -> dict[Method, ProviderGateway]:
    """Head office's WeChat Pay (with 免密支付, its 委托代扣 plan) and Alipay, pointed at the simulators (the real
    services are only other URLs and keys: docs/online-payments.md)."""
    notify = f"{head_office}/api/v1/online-payments/notify"
    wechat_settings = WeChatSettings.model_validate({
        **wechat.keys.merchant_config(wechat_url), "notify_url": f"{notify}/wechatpay", "papay_plan_id": PLAN_ID,
        "papay_notify_url": f"{notify}/wechatpay-papay"})
    alipay_settings = {**alipay.keys.merchant_config(alipay_url), "notify_url": f"{notify}/alipay"}
    return {Method.WECHAT: WeChatGateway(wechat_settings),
            Method.ALIPAY: AlipayGateway(AlipaySettings.model_validate(alipay_settings)),
            Method.AGREEMENT: PapayGateway(wechat_settings, PLAN_ID, wechat_settings.papay_notify_url)}


async def station_key(database_url: str, station: str) -> str:
    """The station server's API key at head office (permission ``payment:online``, its station only)."""
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        return await issue_station_key(conn, station, Actor.system("demo"))


async def seed_demo_business(base_url: str, passwords: dict[str, str], station: str) -> None:
    """The demo's members and fleet through head office's API (a demo service: then idles until stopped)."""
    await seed_demo_members(base_url, "admin", passwords["admin"], station)
    await seed_demo_fleet(base_url, ("fleet", passwords["fleet"]), ("finance", passwords["finance"]), station)
    await asyncio.Event().wait()


def logins_text(logins: list[DemoLogin]) -> str:
    rows = "\n".join(f"  {d.username:<10} {d.password:<18} {d.role}  {','.join(d.units)}" for d in logins)
    return f"演示账号（每次启动重新生成密码）demo logins, fresh passwords each start:\n{rows}"


def demo_alarms(settings: Settings, head_office_url: str, station_url: str, broker: BrokerAddress,
                station: str) -> list[Coroutine[Any, Any, None]]:
    """Both roles' alarm engines: the station server evaluates its own equipment; head office only the station's
    uplink, and copies the station's alarm.* events (docs/alarms.md)."""
    ho = settings.model_copy(update={"alarm_station_servers": station})
    return [AlarmService(settings, station_url, broker, station).run(),
            AlarmService(ho, head_office_url, broker).run()]


def demo_cameras(cameras: CameraServer) -> list[CameraBinding]:
    """The demo's lane cameras as the vision service reads them (their MJPEG streams)."""
    return [CameraBinding(c.code.lower(), f"{cameras.base_url}/cameras/{c.code}/stream.mjpg", c.fuelling_point)
            for c in cameras.config.cameras]


async def run_demo(settings: Settings, *, api_port: int, every_s: float) -> None:
    progress = Progress(Infrastructure.steps(settings, database=True, broker=True) + 2)
    async with Infrastructure(settings, progress=progress) as infra:
        clock = SimClock()
        model = DispenserModel(DEMO_DISPENSER, start=clock.now())
        with progress("启动加油机模拟器 (dispenser simulator, Modbus TCP)"):
            dispenser = DispenserServer(model, clock, port=free_port())
            await dispenser.start()
        cameras = CameraServer(CameraSetConfig(), clock, port=free_port())   # CAM-01/02 on fuelling points 1/2
        await cameras.start()
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
                            outbox_path=outbox_path(settings, station.station), master_data_path=list_file,
                            price_set_path=price_set_path(settings, station.station))
            worker = IngestWorker(infra.database_url, infra.broker, group=settings.group,
                                  share_group=settings.ingest_share_group, client_id="forecourt-demo-ingest",
                                  host_id=settings.primary_host_id or None)
            base = f"http://{settings.api_host}:{api_port}"
            wechat, alipay = WeChatPaySim(), AlipaySim()
            wechat_port, alipay_port = free_port(), free_port()
            wechat_url, alipay_url = f"http://127.0.0.1:{wechat_port}", f"http://127.0.0.1:{alipay_port}"
            gateways = provider_gateways(wechat, wechat_url, alipay, alipay_url, base)
            messaging, messaging_port = MessagingSim(), free_port()   # SMS / WeChat / webhook (docs/notifications.md)
            messaging_url = f"http://127.0.0.1:{messaging_port}"
            notifying = settings.model_copy(update={**messaging.keys.merchant_config(messaging_url),
                                                    "h5_url": f"{base}/h5/"})   # the notices' links
            providers = station_payment_providers(base, await station_key(infra.database_url, station.station),
                                                  station_url)
            with progress("启动边缘节点、数据接入与控制 API (edge node, ingest, API)"):
                services = [
                    run_with_health(node.run(), settings.metrics_host, settings.edge_metrics_port,
                                    edge_metrics_text(station.station), lambda: edge_health(node)),
                    run_with_health(worker.run(), settings.metrics_host, settings.ingest_metrics_port,
                                    ingest_metrics_text, lambda: ingest_health(worker)),
                    api_service(infra.database_url, settings.api_host, api_port, infra.broker, settings.group,
                                tokens, online_gateways=gateways, wechat_mini=mini_program(notifying),
                                messaging=messaging_config(notifying)),   # the customer H5's SMS codes
                    business_service(notifying, infra.database_url, infra.broker),
                    api_service(station_url, settings.api_host, api_port + 1, infra.broker, settings.group,
                                tokens, Role.STATION, providers),
                    asgi_service(wechat.app, "127.0.0.1", wechat_port, "the WeChat Pay simulator"),
                    asgi_service(alipay.app, "127.0.0.1", alipay_port, "the Alipay simulator"),
                    asgi_service(messaging.app, "127.0.0.1", messaging_port, "the messaging simulator"),
                    follow_list(station_url, list_file),
                    follow_price_set(station_url, price_set_path(settings, station.station)),
                    seed_first_prices(infra.database_url, station.station, settings.group, node.connected),
                    station_business_service(settings, station_url, infra.broker, station.station, providers),
                    drive_customers(dispenser, every_s, random.Random(1), cameras),
                    run_vision(settings, *vision_for(settings, station.station, demo_cameras(cameras), infra.broker)),
                    *demo_alarms(settings, infra.database_url, station_url, infra.broker, station.station),
                ]
            logins = await seed_logins(infra.database_url)
            services.append(seed_demo_business(base, {d.username: d.password for d in logins}, station.station))
            members = "  ".join(f"{phone} {name} {plate}" for phone, name, plate in MEMBERS)
            print(f"""
演示站 {station.station}（{station.name}）已启动 — the demo station is running:
  最新数据 latest values   {base}/api/v1/stations/{station.station}/devices/{device.code}/latest
  实时推送 live WebSocket  ws://{settings.api_host}:{api_port}/api/v1/stations/{station.station}/devices/{device.code}/stream
  API 文档 API docs        {base}/docs   (总部 head office)
  站级服务器 station server http://{settings.api_host}:{api_port + 1}/admin/   数据库 database {station_url}
  收银台 station POS        http://{settings.api_host}:{api_port + 1}/pos/   (收银员 cashier; docs/pos.md)
  微信/支付宝模拟 WeChat Pay / Alipay simulators {wechat_url}  {alipay_url}
      顾客扫码付款（模拟）the customer pays a QR on the POS: curl -X POST {wechat_url}/_sim/pay/<payment no>
  短信/微信/Webhook 模拟 messaging simulator {messaging_url}/_sim/sms  (报警通知 alarm notifications)
      微信小程序注册（模拟）a mini program user's codes: curl -X POST {messaging_url}/_sim/wechat-users \\
          -d '{{"phone": "13800138000"}}', then POST them to {base}/api/v1/members/wechat (docs/members.md)
  会员手机页 customer H5    {base}/h5/   演示会员 {H5_MEMBER} 用短信验证码登录 (log in with an SMS code; the code:
                           {messaging_url}/_sim/sms); 该会员已开通无感支付「每次确认」(docs/h5.md)
  加油记录 fuellings       {base}/api/v1/stations/{station.station}/fuelling-transactions
  健康检查 health          {base}/healthz   指标 metrics {base}/metrics
  加油机 dispenser         Modbus TCP 127.0.0.1:{dispenser.port} (docs/protocols/dispenser-modbus.md)
  车道摄像头 lane cameras   {cameras.base_url}/cameras   车牌识别 vision /healthz :{settings.vision_metrics_port}
  MQTT 代理 broker          {infra.broker.url()}   数据库 database {infra.database_url}
  后台 back office          {base}/admin/   登录 log in: POST {base}/api/v1/auth/token
  演示会员 demo members     {members}   (各有电子储值卡 550 元, 充500送50; 收银台 F8 查会员, F9 储值支付)
  演示车队 demo fleet       顺达物流 (挂账 5 万元), 车队卡车辆 {FLEET_PLATE} 日限额 300 元 (收银台 F11 车队加油);
                           企业门户 fleetclient 登录后台 /admin/ (docs/fleets.md, docs/fleet-open-api.md)
{logins_text(logins)}
车辆每约 {every_s:.0f} 秒到达一次并加油。按 Ctrl-C 停止全部服务 (Ctrl-C stops everything).
""", flush=True)
            await run_until_stopped(*services)
            await wechat.close()
            await alipay.close()
        finally:
            await dispenser.stop()
            await cameras.stop()
    print("演示已停止 (demo stopped).", flush=True)
