"""The messaging simulator on a real port, alarm events as the engine sends them, and the notifications' jobs
run by a real procrastinate worker (docs/notifications.md)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import niquests
import procrastinate
import psycopg
import uvicorn
from procrastinate import PsycopgConnector

from business_services.audit.model import Actor
from business_services.bootstrap import build_bus
from business_services.notifications import jobs, repository
from business_services.notifications.channels import MessagingConfig, Notifier, notifiers
from business_services.notifications.handlers import SaveContact, SaveRoute
from business_services.notifications.model import Route, Step
from business_services.unit_of_work import UnitOfWork
from forecourt.local import free_port, wait_for_port
from forecourt.roles import Role, policy
from simulators.messaging.server import MessagingSim
from telemetry.contracts.events.alarms import ALARM_EVENTS, ALARM_RAISED, AlarmState, AlarmTransition, Priority
from telemetry.contracts.topics import event_topic

STATION = "demo-01"
PHONE, OTHER_PHONE = "13812345678", "13987654321"
OPENID = "oWx1a2b3c4d5e6f7g8h9"


@dataclass
class Messaging:
    sim: MessagingSim
    url: str
    config: MessagingConfig

    def channels(self) -> dict[str, Notifier]:
        return notifiers(self.config)

    async def fault(self, **faults: object) -> None:
        async with niquests.AsyncSession() as http:
            (await http.post(f"{self.url}/_sim/faults", json=faults)).raise_for_status()

    async def received(self, what: str) -> dict[str, Any]:
        async with niquests.AsyncSession() as http:
            response = await http.get(f"{self.url}/_sim/{what}")
            response.raise_for_status()
            return response.json()  # type: ignore[no-any-return]


@contextlib.asynccontextmanager
async def messaging_sim(timeout_s: float = 1.0) -> AsyncIterator[Messaging]:
    """The simulator under uvicorn; its keys in a ``MessagingConfig`` (what an installation's settings hold)."""
    sim = MessagingSim()
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(sim.app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    try:
        await wait_for_port("127.0.0.1", port)
        url = f"http://127.0.0.1:{port}"
        keys = sim.keys.merchant_config(url)   # less the mini program's keys (members/wechat.py reads those)
        config = MessagingConfig(**{k: v for k, v in keys.items() if k in MessagingConfig.__dataclass_fields__},
                                 timeout_s=timeout_s)
        yield Messaging(sim, url, config)
    finally:
        server.should_exit = True
        await task


def transition(event_type: str = ALARM_RAISED, *, alarm_id: uuid.UUID, seq: int = 1,
               state_from: AlarmState = AlarmState.NORMAL, state_to: AlarmState = AlarmState.UNACKNOWLEDGED,
               active: bool = True, priority: Priority = Priority.URGENT, rule: str = "gas.level2",
               by: str = "") -> tuple[str, bytes]:
    """(topic, raw) of one alarm event as the engine's outbox publishes it."""
    payload = ALARM_EVENTS[event_type](
        alarm_id=alarm_id, seq=seq, station=STATION, rule=rule, source="lel-01/concentration", area="加油区",
        priority=priority, kind="high_high", state_from=state_from, state_to=state_to, active=active, value=55.0,
        limit=50.0, unit="%LEL", message="可燃气体二级报警，立即疏散并切断电源", by=by, at=datetime.now(UTC))
    event = payload.envelope(source=f"alarms/{STATION}", event_id=AlarmTransition.event_id(payload))
    return event_topic("demo-co", STATION, event_type), event.to_bytes()


async def save(database_url: str, *commands: SaveRoute | SaveContact) -> list[int]:
    """Contacts and routes, through the bus as the API saves them; their ids."""
    bus = build_bus(policy(Role.HEAD_OFFICE).contexts)
    ids = []
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        for command in commands:
            async with UnitOfWork(conn, Actor("admin", "test")) as uow:
                ids.append(await bus.handle(command, uow))
    return ids


def contact(name: str, phone: str | None = PHONE, openid: str | None = None, *groups: str) -> SaveContact:
    return SaveContact(0, name, phone, openid, groups)


def route(*steps: Step, rule: str | None = None, min_priority: Priority = Priority.LOW) -> SaveRoute:
    return SaveRoute(Route(0, "test route", steps, rule, min_priority))


def job_app(database_url: str, channels: dict[str, Notifier]) -> procrastinate.App:
    """A procrastinate app with the notifications' tasks, sending through ``channels``."""
    app = procrastinate.App(connector=PsycopgConnector(conninfo=database_url, min_size=1, max_size=4))
    jobs.register(app, None, channels)
    return app


async def drain(app: procrastinate.App) -> None:
    """Run every notifications job that is due now, then return (as a worker would, once)."""
    await app.run_worker_async(queues=[repository.QUEUE], wait=False, install_signal_handlers=False)


@contextlib.asynccontextmanager
async def worker(app: procrastinate.App) -> AsyncIterator[None]:
    """A worker running in the background (it takes each job at its scheduled time)."""
    task = asyncio.create_task(app.run_worker_async(queues=[repository.QUEUE], install_signal_handlers=False,
                                                    fetch_job_polling_interval=0.2))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def rows(database_url: str, query: str, *params: object) -> list[tuple[Any, ...]]:
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        return list(await (await conn.execute(query, params)).fetchall())  # type: ignore[arg-type]
