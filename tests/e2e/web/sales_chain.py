"""Issue 15's whole sales chain for one browser test, wired as ``forecourt demo`` wires it (``forecourt/demo.py``),
every part real, all on one event loop in a thread of the test process (the test's Selenium code stays sync and
calls into it with ``SalesChain.call``):

- the dispenser simulator (Modbus TCP, the demo's dispenser) and a real edge node polling it, publishing
  ``fuelling.completed`` and Sparkplug B on the test's broker under the test's own group;
- head office: the control API (role head office) on its database, talking to the WeChat Pay and Alipay simulators
  with the real SDKs (``provider_gateways``), and its business consumer (``business_service``), which records
  what the station reports;
- the station server: the control API (role station) on its own database, holding demo-01's master-data list and
  taking online payments through head office with its own key (``station_payment_providers``), and its business plane
  (``StationBusiness``: consumer, outbox publisher, audit shipping, its own ingest of its edge node, jobs);
- a network receipt printer (``simulators/receipt_printer``), named by ``FORECOURT_RECEIPT_PRINTER``;
- prices (issue 16) as the demo wires them: the edge keeps its price set beside its outbox (``price_set_path``) and
  writes each price to the pump between fuellings, the station server follows that file (``follow_price_set``),
  head office's business service runs the jobs that send scheduled changes and resend unapplied sets
  (``schedule``: ``jobs.JOBS``, or quicker ones for a test); ``prices`` seeds demo-01's first set at head office
  and waits until it is in force on every nozzle;
- the edge node reaches the broker through an ``Uplink`` the test can cut (the station's line to head office).

A car fuels because the test drives the pump (``fuel``, or ``start_fuelling`` then ``finish_fuelling`` when something
must happen while it flows): nozzle up, the pump authorised, flow, the customer hangs the nozzle up; the cashier is
paid at the POS, so the pump's transaction stays unpaid on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import threading
import time
from collections.abc import Coroutine, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psycopg

from business_services import jobs
from business_services.access.demo import DemoLogin
from business_services.prices.demo import seed_demo_prices
from control_api.security import TokenIssuer
from edge_nodes.runtime import EdgeNode
from edge_nodes.station import load_station
from forecourt.demo import DEMO_STATION, provider_gateways, station_key
from forecourt.local import free_port
from forecourt.roles import Role
from forecourt.services import (
    StationBusiness,
    api_service,
    asgi_service,
    business_service,
    master_data_path,
    outbox_path,
    price_set_path,
    station_payment_providers,
)
from forecourt.settings import Settings
from forecourt.simulate import DEMO_DISPENSER
from forecourt.station_prices import follow_price_set
from simulators.alipay.server import AlipaySim
from simulators.clock import SimClock
from simulators.dispenser.model import DispenserModel
from simulators.dispenser.server import DispenserServer
from simulators.dispenser.states import FpState, PresetType
from simulators.receipt_printer import ReceiptPrinter
from simulators.wechatpay.server import WeChatPaySim
from telemetry.contracts.broker import BrokerAddress
from tests.e2e.web.conftest import _station_list
from tests.e2e.web.uplink import Uplink

STATION = "demo-01"
T = TypeVar("T")


@dataclass(frozen=True)
class Fuelled:
    """What the pump says of one fuelling: its litres and fen, and the nozzle's totalizer around it."""

    fuelling_point: int
    nozzle: int
    volume_l: Decimal
    amount_fen: int
    totalizer_before_l: Decimal
    totalizer_after_l: Decimal


class SalesChain:
    """The running chain: URLs, databases, logins, and the loop its services run on."""

    def __init__(self, head_office_db: str, station_db: str, broker: BrokerAddress, group: str,
                 data_dir: Path, prices: Mapping[str, int] | None = None,
                 schedule: Sequence[jobs.Job] = jobs.JOBS) -> None:
        self.head_office_db, self.station_db, self.broker, self.group = head_office_db, station_db, broker, group
        self.prices, self.schedule = prices, schedule
        self.uplink = Uplink(broker)
        self.edge: EdgeNode | None = None
        self.settings = Settings(data_dir=data_dir, group=group, business_group=group, primary_host_id=None,
                                 broker_drop_watch=False)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="sales-chain", daemon=True)
        self._tasks: list[asyncio.Task[None]] = []
        self.logins: dict[str, DemoLogin] = {}
        self.head_office = self.station_server = self.wechat_url = ""
        self.business_health = ""
        self.printer = ReceiptPrinter()
        self.wechat, self.alipay = WeChatPaySim(), AlipaySim()
        self.dispenser: DispenserServer | None = None
        self._before: dict[tuple[int, int], int] = {}       # a fuelling's nozzle totalizer at its start, 0.01 L

    def call(self, work: Coroutine[Any, Any, T], timeout_s: float = 60) -> T:
        """Run ``work`` on the chain's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout_s)

    def start(self) -> None:
        self._thread.start()
        self.logins = self.call(_station_list(self.head_office_db, self.station_db, group=self.group))
        self.call(self._start())
        deadline = time.monotonic() + 60
        for url in (f"{self.head_office}/healthz", f"{self.station_server}/healthz", self.business_health):
            while not _healthy(url):
                assert time.monotonic() < deadline, f"{url} did not become healthy"
                assert not self.failed_services(), self.failed_services()
                time.sleep(0.1)

    async def _start(self) -> None:
        clock = SimClock()
        self.dispenser = DispenserServer(DispenserModel(DEMO_DISPENSER, start=clock.now()), clock, port=0)
        await self.dispenser.start()
        await self.printer.__aenter__()
        station = load_station(DEMO_STATION)
        device = station.devices[0].model_copy(update={"port": self.dispenser.port, "poll_interval_s": 0.2})
        station = station.model_copy(update={"devices": [device]})
        node = self.edge = EdgeNode(station, await self.uplink.start(), group=self.group,
                                    outbox_path=outbox_path(self.settings, STATION),
                                    master_data_path=master_data_path(self.settings, STATION),
                                    price_set_path=price_set_path(self.settings, STATION), mqtt_backoff_max_s=1.0)
        head_office_port, station_port, wechat_port, alipay_port, health_port = (free_port() for _ in range(5))
        self.head_office = f"http://127.0.0.1:{head_office_port}"
        self.station_server = f"http://127.0.0.1:{station_port}"
        self.wechat_url, alipay_url = f"http://127.0.0.1:{wechat_port}", f"http://127.0.0.1:{alipay_port}"
        self.business_health = f"http://127.0.0.1:{health_port}/healthz"
        gateways = provider_gateways(self.wechat, self.wechat_url, self.alipay, alipay_url, self.head_office)
        providers = station_payment_providers(self.head_office, await station_key(self.head_office_db, STATION),
                                              self.station_db)     # online and member tenders, as the demo wires them
        self.providers = providers          # a test may cut the station's line to head office (its link's)
        tokens = TokenIssuer(secrets.token_urlsafe(32))
        station_business = StationBusiness(self.settings, self.station_db, self.broker, STATION, providers)
        for service in (
            api_service(self.head_office_db, "127.0.0.1", head_office_port, self.broker, self.group, tokens,
                        online_gateways=gateways),
            business_service(self.settings, self.head_office_db, self.broker, metrics_port=health_port,
                             schedule=self.schedule),
            api_service(self.station_db, "127.0.0.1", station_port, self.broker, self.group, tokens, Role.STATION,
                        providers),
            asgi_service(self.wechat.app, "127.0.0.1", wechat_port, "the WeChat Pay simulator"),
            asgi_service(self.alipay.app, "127.0.0.1", alipay_port, "the Alipay simulator"),
            station_business.run(),
            follow_price_set(self.station_db, price_set_path(self.settings, STATION), every_s=0.2),
            node.run(),
        ):
            self._tasks.append(asyncio.create_task(service))
        async with asyncio.timeout(60):
            await station_business.ready()      # its consumer and ingest hear the edge node from its first word
            await node.connected.wait()
        if self.prices is not None:             # the edge is listening: the first set reaches it at once
            async with await psycopg.AsyncConnection.connect(self.head_office_db) as conn:
                await seed_demo_prices(conn, STATION, self.group, dict(self.prices))
            async with asyncio.timeout(60):
                while await self._in_force_at_head_office() != 1:
                    await asyncio.sleep(0.1)

    async def _in_force_at_head_office(self) -> int | None:
        async with await psycopg.AsyncConnection.connect(self.head_office_db) as conn:
            cur = await conn.execute("SELECT max(version) FROM business.price_sets "
                                     "WHERE station = %s AND in_force_at IS NOT NULL", (STATION,))
            row = await cur.fetchone()
        return None if row is None else row[0]

    def stop(self) -> None:
        async def stopping() -> None:
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self.wechat.close()
            await self.alipay.close()
            await self.printer.__aexit__(None, None, None)
            await self.uplink.cut()
            if self.dispenser is not None:
                await self.dispenser.stop()
        with contextlib.suppress(Exception):
            self.call(stopping())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)

    def failed_services(self) -> list[str]:
        """The services that ended with an error (each should run until the chain stops)."""
        return [repr(t.exception()) for t in self._tasks if t.done() and not t.cancelled() and t.exception()]

    def fuel(self, fuelling_point: int, nozzle: int, centilitres: int) -> Fuelled:
        """A car fuels at ``nozzle`` of ``fuelling_point`` until the pump has given at least ``centilitres``, then
        the customer hangs up; the pump's figures."""
        self.start_fuelling(fuelling_point, nozzle)
        return self.finish_fuelling(fuelling_point, nozzle, centilitres)

    def start_fuelling(self, fuelling_point: int, nozzle: int) -> None:
        """The customer lifts the nozzle and the pump, authorised, delivers: returns once fuel flows."""
        self.call(self._start_fuelling(fuelling_point, nozzle))

    def finish_fuelling(self, fuelling_point: int, nozzle: int, centilitres: int) -> Fuelled:
        """The fuelling started by ``start_fuelling`` goes on until at least ``centilitres``; the customer hangs up."""
        return self.call(self._finish_fuelling(fuelling_point, nozzle, centilitres))

    def _pump(self) -> DispenserServer:
        assert self.dispenser is not None
        return self.dispenser

    async def _start_fuelling(self, fp: int, nozzle: int) -> None:
        pump = self._pump()
        model = pump.model
        pump.catch_up()
        self._before[(fp, nozzle)] = model.fp_view(fp).nozzles[nozzle - 1].volume_total_cl
        model.lift_nozzle(fp, nozzle)
        assert model.authorise(fp, PresetType.NONE, 0, nozzle) == 0, "the pump refused the authorisation"
        while model.fp_view(fp).volume_cl == 0:                   # full flow, no preset's slow end
            assert model.fp_view(fp).state in (FpState.AUTHORISED, FpState.STARTED, FpState.FUELLING)
            await asyncio.sleep(0.02)
            pump.catch_up()

    async def _finish_fuelling(self, fp: int, nozzle: int, centilitres: int) -> Fuelled:
        pump = self._pump()
        model = pump.model
        while model.fp_view(fp).volume_cl < centilitres:
            assert model.fp_view(fp).state in (FpState.STARTED, FpState.FUELLING)
            await asyncio.sleep(0.02)
            pump.catch_up()
        model.hang_nozzle(fp, nozzle)                              # the customer stops and hangs up
        pump.catch_up()
        after = model.fp_view(fp).nozzles[nozzle - 1].volume_total_cl
        last = model.transactions(fp)[-1]
        return Fuelled(fp, nozzle, Decimal(last.volume_cl).scaleb(-2), last.amount_fen,
                       Decimal(self._before.pop((fp, nozzle))).scaleb(-2), Decimal(after).scaleb(-2))

    def pump_price_fen(self, fuelling_point: int, nozzle: int) -> int:
        """The unit price the pump holds for a nozzle now (what the edge wrote and read back)."""
        async def read() -> int:
            self._pump().catch_up()
            return self._pump().model.fp_view(fuelling_point).nozzles[nozzle - 1].price_fen
        return self.call(read())

    def totalizer_l(self, fuelling_point: int, nozzle: int) -> Decimal:
        async def read() -> Decimal:
            assert self.dispenser is not None
            self.dispenser.catch_up()
            return Decimal(self.dispenser.model.fp_view(fuelling_point).nozzles[nozzle - 1].volume_total_cl).scaleb(-2)
        return self.call(read())


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@contextlib.contextmanager
def running(head_office_db: str, station_db: str, broker: BrokerAddress, group: str, data_dir: Path,
            prices: Mapping[str, int] | None = None, schedule: Sequence[jobs.Job] = jobs.JOBS) -> Iterator[SalesChain]:
    chain = SalesChain(head_office_db, station_db, broker, group, data_dir, prices, schedule)
    try:
        chain.start()
        yield chain
    finally:
        chain.stop()
