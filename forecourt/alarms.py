"""Bootstrap of ``forecourt alarms``: the alarm engine, the publisher of its alarm.* events and the follower of
the other role, with ``/metrics`` and ``/healthz`` on ``FORECOURT_ALARMS_METRICS_PORT``.

Where each station is evaluated is decided in one place (``telemetry/alarms/model.py::scope_for``): a station
server (``--station CODE`` in the station role) evaluates its own equipment; head office evaluates every station
except those in ``FORECOURT_ALARM_STATION_SERVERS``, and the uplink of all of them. docs/alarms.md.
"""

from __future__ import annotations

import asyncio

from business_services.partition import Partition
from forecourt.health import exposition
from forecourt.services import run_with_health
from forecourt.settings import Settings
from telemetry.alarms import metrics as alarm_metrics
from telemetry.alarms.engine import AlarmEngine, Where
from telemetry.alarms.follower import AlarmFollower
from telemetry.alarms.publisher import AlarmPublisher
from telemetry.alarms.rules import DEFAULT_FILE
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.health import Health, from_report, health


def station_servers(settings: Settings) -> frozenset[str]:
    return frozenset(code for code in settings.alarm_station_servers.split(",") if code)


class AlarmService:
    def __init__(self, settings: Settings, database_url: str, broker: BrokerAddress, station: str | None = None,
                 tick_s: float = 1.0) -> None:
        role = "station" if station is not None else "head-office"
        partition = Partition.parse(settings.alarm_partition)
        where = Where(role=role, own_station=station, station_servers=station_servers(settings),
                      partition=(partition.index, partition.count))
        worker = f"{settings.group}-{station or 'ho'}-{settings.alarm_worker_id}"
        self.engine = AlarmEngine(database_url, group=settings.group, where=where,
                                  rules_file=settings.alarm_rules_file or DEFAULT_FILE, tick_s=tick_s)
        self.publisher = AlarmPublisher(database_url, broker, f"forecourt-alarms-pub-{worker}")
        self.follower = AlarmFollower(database_url, broker, group=settings.group, station=station,
                                      client_id=f"forecourt-alarms-{worker}")

    def health(self) -> Health:
        return health("alarms", {**from_report("engine", self.engine.health()),
                                 **from_report("follower", {"ok": self.follower.subscribed.is_set(),
                                                            "applied": self.follower.applied}),
                                 **from_report("publisher", {"ok": True, "active": self.publisher.active.is_set(),
                                                             "published": self.publisher.published})})

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self.engine.run())
            tasks.create_task(self.publisher.run())
            tasks.create_task(self.follower.run())


def alarms_metrics_text() -> bytes:
    return exposition([alarm_metrics.REGISTRY])


async def alarms_service(settings: Settings, database_url: str, broker: BrokerAddress, station: str | None = None,
                         metrics_port: int | None = None) -> None:
    service = AlarmService(settings, database_url, broker, station)
    await run_with_health(service.run(), settings.metrics_host, metrics_port or settings.alarms_metrics_port,
                          alarms_metrics_text, service.health)
