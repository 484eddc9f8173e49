"""Bootstraps of the long-running services: each takes what the composition root resolved and runs until cancelled."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Generator
from pathlib import Path

import uvicorn

from business_services.consumer import EventConsumer
from control_api.app import create_app
from edge_nodes.runtime import EdgeNode
from edge_nodes.station import load_station
from forecourt.broker_watch import DropWatch
from forecourt.health import serve_health
from forecourt.settings import Settings
from telemetry.contracts.broker import BrokerAddress
from telemetry.ingest.worker import IngestWorker

log = logging.getLogger(__name__)


async def edge_service(settings: Settings, station_file: Path, broker: BrokerAddress,
                       metrics_port: int | None = None) -> None:
    station = load_station(station_file)
    node = EdgeNode(station, broker, group=settings.group, primary_host=settings.primary_host_id or None,
                    outbox_path=outbox_path(settings, station.station),
                    outbox_max_bytes=settings.edge_outbox_max_mb * 1024 * 1024)
    await run_with_health(node.run(), metrics_port or settings.edge_metrics_port,
                          lambda: {"ok": node.connected.is_set(), "station": station.station,
                                   "mqtt": "connected" if node.connected.is_set() else "reconnecting"})


async def business_service(settings: Settings, database_url: str, broker: BrokerAddress,
                           metrics_port: int | None = None) -> None:
    client_id = f"forecourt-business-{settings.group}"
    consumer = EventConsumer(database_url, broker, client_id=client_id, group=settings.business_group,
                             stall_after_s=settings.business_stall_after_s)
    await run_with_health(with_drop_watch(consumer.run(), settings, broker, client_id),
                          metrics_port or settings.business_metrics_port, consumer.health)


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


async def ingest_service(settings: Settings, database_url: str, broker: BrokerAddress,
                         metrics_port: int | None = None) -> None:
    worker = IngestWorker(database_url, broker, group=settings.ingest_group, share_group=settings.ingest_share_group,
                          client_id=f"forecourt-ingest-{settings.group}-{settings.ingest_worker_id}",
                          host_id=settings.primary_host_id or None)
    await run_with_health(with_drop_watch(worker.run(), settings, broker, worker.client_id),
                          metrics_port or settings.ingest_metrics_port, worker.health)


async def run_with_health(service: Awaitable[None], port: int, check: Callable[[], dict[str, object]]) -> None:
    server = await serve_health("127.0.0.1", port, check)
    log.info("metrics on http://127.0.0.1:%d/metrics, health on /healthz", port)
    try:
        await service
    finally:
        server.close()


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the CLI owns Ctrl-C and stops every service together."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


async def api_service(database_url: str, host: str, port: int, broker: BrokerAddress | None = None,
                      group: str = "demo-co") -> None:
    server = _Server(uvicorn.Config(create_app(database_url, broker, group=group), host=host, port=port,
                                    log_level="warning", ws="websockets-sansio"))
    task = asyncio.create_task(server.serve())
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        server.should_exit = True
        await task
        raise
    if not server.started:
        raise OSError(f"the control API could not listen on {host}:{port} (is the port in use?)")
