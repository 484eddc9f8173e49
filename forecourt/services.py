"""Bootstraps of the long-running services: each takes what the composition root resolved and runs until cancelled.

Edge, ingest and business serve ``/metrics`` (their own registries only) and ``/healthz`` (the one shape of
``telemetry/contracts/health.py``) on ``settings.metrics_host`` and their metrics port.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine, Generator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import uvicorn

from business_services import consumer as business_metrics
from business_services import jobs
from business_services import outbox as outbox_metrics
from business_services.audit.shipping import ship_forever
from business_services.bootstrap import build_bus, outbox_publisher
from business_services.consumer import EventConsumer
from business_services.drive_through import service as drive_through
from business_services.ic_cards.model import Psam
from business_services.members.wechat import MiniProgram, MiniProgramConfig
from business_services.notifications.channels import MessagingConfig
from business_services.online_payments.model import ProviderGateway
from business_services.online_payments.station_client import online_providers
from business_services.outbox import MqttSink, OutboxPublisher
from business_services.partition import Partition
from business_services.payments.providers import PaymentProvider
from business_services.payments.registry import Providers, head_office_link, member_providers
from business_services.station_members.sync import MemberListSync
from business_services.stations.views import list_stations
from control_api.app import create_app
from control_api.security import TokenIssuer
from edge_nodes import metrics as edge_metrics
from edge_nodes.runtime import EdgeNode
from edge_nodes.station import load_station
from forecourt import broker_watch
from forecourt.broker_watch import DropWatch
from forecourt.health import exposition, serve_health
from forecourt.ic_cards import pos_provider, station_desk
from forecourt.roles import Role, policy
from forecourt.settings import Settings
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.events.payments import Method
from telemetry.contracts.health import Health, check, from_report, health

if TYPE_CHECKING:
    from vision.events import EventQueue
    from vision.service import VisionService
from telemetry.ingest import metrics as ingest_metrics
from telemetry.ingest.worker import IngestWorker

log = logging.getLogger(__name__)


async def edge_service(settings: Settings, station_file: Path, broker: BrokerAddress,
                       metrics_port: int | None = None) -> None:
    station = load_station(station_file)
    node = EdgeNode(station, broker, group=settings.group, primary_host=settings.primary_host_id or None,
                    outbox_path=outbox_path(settings, station.station),
                    outbox_max_bytes=settings.edge_outbox_max_mb * 1024 * 1024,
                    master_data_path=master_data_path(settings, station.station),
                    price_set_path=price_set_path(settings, station.station))
    await run_with_health(node.run(), settings.metrics_host, metrics_port or settings.edge_metrics_port,
                          edge_metrics_text(station.station), lambda: edge_health(node))


def edge_health(node: EdgeNode) -> Health:
    connected = node.connected.is_set()
    return health("edge", {"mqtt": check(connected, {"station": node.station.station,
                                                     "state": "connected" if connected else "reconnecting"})})


def edge_metrics_text(station: str) -> Callable[[], bytes]:
    """The edge node's series, each with the constant label ``station`` (one edge node per station)."""
    return lambda: exposition([edge_metrics.REGISTRY], {"station": station})


def ingest_health(worker: IngestWorker) -> Health:
    return health("ingest", from_report("worker", worker.health()))


def business_health(consumer: EventConsumer, publisher: OutboxPublisher | None = None) -> Health:
    checks = from_report("consumer", consumer.health())
    return health("business", checks if publisher is None else checks | from_report("outbox", publisher.health()))


def ingest_metrics_text() -> bytes:
    return exposition([ingest_metrics.REGISTRY, broker_watch.REGISTRY])


def business_metrics_text() -> bytes:
    return exposition([business_metrics.REGISTRY, outbox_metrics.REGISTRY, broker_watch.REGISTRY])


def messaging_config(settings: Settings) -> MessagingConfig:
    """Where head office sends alarm notifications (SMS, WeChat, webhooks): docs/notifications.md."""
    return MessagingConfig(
        sms_endpoint=settings.sms_endpoint, sms_access_key_id=settings.sms_access_key_id,
        sms_access_key_secret=settings.sms_access_key_secret, sms_sign_name=settings.sms_sign_name,
        sms_template_code=settings.sms_template_code, wechat_endpoint=settings.wechat_endpoint,
        wechat_appid=settings.wechat_appid, wechat_secret=settings.wechat_secret,
        wechat_template_id=settings.wechat_template_id, webhook_secret=settings.webhook_secret,
        sms_login_template_code=settings.sms_login_template_code,
        sms_paid_template_code=settings.sms_paid_template_code,
        sms_confirm_template_code=settings.sms_confirm_template_code,
        wechat_member_template_id=settings.wechat_member_template_id, h5_url=settings.h5_url,
        sms_dunning_template_code=settings.sms_dunning_template_code)


def mini_program(settings: Settings) -> MiniProgram | None:
    """The members' WeChat mini program (quick registration, docs/members.md); None when its keys are not set."""
    if not (settings.wechat_mini_appid and settings.wechat_mini_secret):
        return None
    return MiniProgram(MiniProgramConfig(settings.wechat_mini_appid, settings.wechat_mini_secret,
                                         settings.wechat_endpoint))


async def business_service(settings: Settings, database_url: str, broker: BrokerAddress,
                           metrics_port: int | None = None, schedule: Sequence[jobs.Job] = jobs.JOBS) -> None:
    """The event consumer (this process's partition), the outbox publisher (active in one process at a time) and
    a worker of the scheduled jobs (each job runs once across processes: business_services/jobs; ``schedule``:
    its jobs, ``jobs.JOBS`` but in a test that needs one sooner)."""
    partition = Partition.parse(settings.business_partition)
    consumer = EventConsumer(database_url, broker, client_id=f"forecourt-business-{settings.group}",
                             bus=build_bus(policy(Role.HEAD_OFFICE).contexts), partition=partition,
                             group=settings.business_group, stall_after_s=settings.business_stall_after_s)
    publisher = outbox_publisher(database_url, MqttSink(broker, f"{consumer.client_id}-outbox"))
    services = together(consumer.run(), publisher.run(),
                        jobs.work(database_url, schedule=schedule, messaging=messaging_config(settings)))
    await run_with_health(with_drop_watch(services, settings, broker, consumer.client_id),
                          settings.metrics_host, metrics_port or settings.business_metrics_port,
                          business_metrics_text, lambda: business_health(consumer, publisher))


def station_consumer(settings: Settings, database_url: str, broker: BrokerAddress, station: str) -> EventConsumer:
    """A station server's consumer: its own station's events only, on the station role's bus (a fuelling
    becomes an order in the station's database), with a persistent session of its own."""
    return EventConsumer(database_url, broker, client_id=f"forecourt-station-{settings.group}-{station}",
                         bus=build_bus(policy(Role.STATION).contexts), group=settings.group, station=station,
                         stall_after_s=settings.business_stall_after_s)


def station_ingest(settings: Settings, database_url: str, broker: BrokerAddress, station: str) -> IngestWorker:
    """A station server's own ingest: its station's edge node only (the POS shows live nozzles from the station's
    database, also without head office), not a primary host, with a persistent session of its own."""
    return IngestWorker(database_url, broker, group=settings.group, edge_node=station,
                        client_id=f"forecourt-station-ingest-{settings.group}-{station}")


class StationBusiness:
    """The station server's business plane: ``station_consumer``, its outbox publisher (orders, payments, shifts
    and its audit chain travel up to head office from there), the audit shipping that feeds it, and
    ``station_ingest`` (its own edge node's live device values, for the POS) and its scheduled jobs. ``ready``
    waits until the consumer and the ingest are subscribed (an end-to-end test starts the pump after it)."""

    def __init__(self, settings: Settings, database_url: str, broker: BrokerAddress, station: str,
                 providers: Providers | None = None) -> None:
        self.database_url, self.station, self.group = database_url, station, settings.group
        self.consumer = station_consumer(settings, database_url, broker, station)
        self.publisher = outbox_publisher(database_url, MqttSink(broker, f"{self.consumer.client_id}-outbox"))
        self.ingest = station_ingest(settings, database_url, broker, station)
        self.ic_desk = station_desk(settings, database_url, station)   # the IC card readers (docs/ic-cards.md)
        # drive-through pays by the member tenders through head office (docs/vision.md "Drive-through payment"):
        # the station API's own providers when given (the demo), else made from the settings
        if providers is None:
            providers = station_payment_providers(settings.head_office_url, settings.head_office_api_key,
                                                  database_url) \
                if settings.head_office_url and settings.head_office_api_key else Providers()
        self.providers = providers

    async def ready(self) -> None:
        await self.consumer.subscribed.wait()
        await self.ingest.subscribed.wait()

    async def run(self) -> None:
        await together(self.consumer.run(), self.publisher.run(),
                       ship_forever(self.database_url, self.station, self.group), self.ingest.run(),
                       jobs.work(self.database_url, name="station"),
                       drive_through.pay_forever(self.database_url, build_bus(policy(Role.STATION).contexts),
                                                 self.providers, self.station),
                       *([self.ic_desk.watch()] if self.ic_desk else []))


async def station_business_service(settings: Settings, database_url: str, broker: BrokerAddress,
                                   station: str, providers: Providers | None = None) -> None:
    """``StationBusiness`` run until cancelled."""
    await StationBusiness(settings, database_url, broker, station, providers).run()


async def together(*services: Coroutine[Any, Any, None]) -> None:
    """Run services until one ends (it raised) or all are cancelled."""
    async with asyncio.TaskGroup() as tasks:
        for service in services:
            tasks.create_task(service)


async def with_drop_watch(service: Awaitable[None], settings: Settings, broker: BrokerAddress,
                          client_id: str) -> None:
    """Run a service and, beside it, the watch on the broker's dropped messages (``forecourt/broker_watch.py``)."""
    if not settings.broker_drop_watch:
        await service
        return
    watch = asyncio.ensure_future(DropWatch(broker, client_id=f"{client_id}-drops").run())
    try:
        await service
    finally:
        watch.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watch


def outbox_path(settings: Settings, station: str) -> Path:
    return Path(settings.data_dir) / "edge" / f"{station}.outbox.sqlite"


def master_data_path(settings: Settings, station: str) -> Path:
    """The master-data list head office pushed to the station (edge_nodes/master_data.py)."""
    return Path(settings.data_dir) / "edge" / f"{station}.master-data.json"


def price_set_path(settings: Settings, station: str) -> Path:
    """The price set head office pushed to the station (edge_nodes/prices.py; its nozzles' books beside it)."""
    return Path(settings.data_dir) / "edge" / f"{station}.price-set.json"


async def ingest_service(settings: Settings, database_url: str, broker: BrokerAddress,
                         metrics_port: int | None = None) -> None:
    worker = IngestWorker(database_url, broker, group=settings.ingest_group, share_group=settings.ingest_share_group,
                          client_id=f"forecourt-ingest-{settings.group}-{settings.ingest_worker_id}",
                          host_id=settings.primary_host_id or None)
    await run_with_health(with_drop_watch(worker.run(), settings, broker, worker.client_id), settings.metrics_host,
                          metrics_port or settings.ingest_metrics_port, ingest_metrics_text,
                          lambda: ingest_health(worker))


async def run_with_health(service: Awaitable[None], host: str, port: int, metrics: Callable[[], bytes],
                          healthz: Callable[[], Health]) -> None:
    server = await serve_health(host, port, metrics, healthz)
    log.info("metrics on http://%s:%d/metrics, health on /healthz", host, port)
    try:
        await service
    finally:
        server.close()


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the CLI owns Ctrl-C and stops every service together."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def token_issuer(settings: Settings) -> TokenIssuer:
    """Signs access tokens with ``FORECOURT_JWT_SECRET``; without it a random secret (with a warning)."""
    if settings.jwt_secret is None:
        log.warning("FORECOURT_JWT_SECRET is not set: access tokens are signed with a random secret and end with "
                    "this process; set it (the same for every API process) in production")
        return TokenIssuer(ttl_s=settings.token_ttl_s)
    return TokenIssuer(settings.jwt_secret, settings.token_ttl_s)


def station_providers(settings: Settings, database_url: str | None = None) -> Providers:
    """A station server's ways of paying: the offline tenders; the online ones, stored value and points through
    head office when ``FORECOURT_HEAD_OFFICE_URL`` and ``FORECOURT_HEAD_OFFICE_API_KEY`` are set (stored value and
    points need ``database_url``: ``station_payment_providers``); IC cards when its readers are
    (``FORECOURT_IC_READER_ADDRESS``, ``FORECOURT_IC_ISSUER_KEY``; docs/ic-cards.md)."""
    ic_card = pos_provider(settings, database_url) if database_url else None
    local: list[PaymentProvider] = [ic_card] if ic_card is not None else []
    if not (settings.head_office_url and settings.head_office_api_key):
        return Providers(local)
    if database_url is not None:
        return station_payment_providers(settings.head_office_url, settings.head_office_api_key, database_url, local)
    return Providers([*online_providers(settings.head_office_url, settings.head_office_api_key).values(), *local])


def station_payment_providers(base_url: str, api_key: str, database_url: str,
                              local: Sequence[PaymentProvider] = ()) -> Providers:
    """The online providers and the member tenders (stored value, points), all on one link to head office, and
    the ``local`` ones (IC cards)."""
    online = online_providers(base_url, api_key)
    link = getattr(online[Method.WECHAT], "link", None)
    return Providers([*online.values(), *member_providers(link, database_url), *local])


def member_list_sync(database_url: str, role: Role, providers: Providers | None) -> MemberListSync | None:
    """A station server's puller of its member list (docs/offline-members.md); None without a head office link."""
    link = head_office_link(providers) if providers is not None and role is Role.STATION else None
    if link is None:
        return None
    return MemberListSync(database_url, link, build_bus(policy(Role.STATION).contexts), _own_stations)


async def _own_stations(conn: Any) -> list[str]:
    return [s.code for s in (await list_stations(conn, None, limit=50)).items]


async def api_service(database_url: str, host: str, port: int, broker: BrokerAddress | None = None,
                      group: str = "demo-co", tokens: TokenIssuer | None = None,
                      role: Role = Role.HEAD_OFFICE, payment_providers: Providers | None = None,
                      online_gateways: Mapping[Method, ProviderGateway] | None = None,
                      ic_psam: Psam | None = None, wechat_mini: MiniProgram | None = None,
                      messaging: MessagingConfig | None = None) -> None:
    app = create_app(database_url, broker, group=group, tokens=tokens, role=role, payment_providers=payment_providers)
    app.state.messaging = messaging      # the customer H5's login codes by SMS (docs/h5.md)
    app.state.ic_psam = ic_psam          # head office authorises IC loads with it (docs/ic-cards.md)
    app.state.wechat_mini = wechat_mini  # WeChat quick registration of members (docs/members.md)
    if online_gateways is not None:     # else read from WECHATPAY_* / ALIPAY_* (routes/online_payments.py)
        app.state.online_gateways = dict(online_gateways)
    sync = member_list_sync(database_url, role, payment_providers)   # a station server keeps its member list
    pulling = asyncio.create_task(sync.run(), name="member-list") if sync is not None else None
    try:
        await asgi_service(app, host, port, "the control API")
    finally:
        if pulling is not None:
            pulling.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pulling


async def asgi_service(app: Any, host: str, port: int, what: str) -> None:
    """Serve an ASGI app (the API, a provider simulator) with uvicorn until cancelled."""
    # access_log off: at level warning its lines were never written, but built for every request all the same;
    # the loop and the HTTP parser are uvicorn's "auto" ones, uvloop and httptools (uvicorn[standard])
    server = _Server(uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                                    ws="websockets-sansio"))
    task = asyncio.create_task(server.serve())
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        server.should_exit = True
        await task
        raise
    if not server.started:
        raise OSError(f"{what} could not listen on {host}:{port} (is the port in use?)")


async def vision_service(settings: Settings, station_file: Path, broker: BrokerAddress,
                         metrics_port: int | None = None) -> None:
    """``forecourt vision serve``: the station's cameras (its station file's ``protocol: camera`` entries) read for
    plates, ``vehicle.recognized`` to the station's event topic, snapshots under the data dir swept daily."""
    from vision.service import vision_for_station

    await run_vision(settings, *vision_for_station(settings, station_file, broker), metrics_port)


async def run_vision(settings: Settings, service: VisionService, queue: EventQueue,
                     sweep: Coroutine[Any, Any, None], metrics_port: int | None = None) -> None:
    from vision.service import vision_health

    await run_with_health(together(service.run(), queue.run(), sweep), settings.metrics_host,
                          metrics_port or settings.vision_metrics_port, vision_metrics_text(service.station),
                          lambda: vision_health(service, queue))


def vision_metrics_text(station: str) -> Callable[[], bytes]:
    from vision.metrics import REGISTRY as vision_registry

    return lambda: exposition([vision_registry], {"station": station})
