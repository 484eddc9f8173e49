"""Card readers on a real TCP port, a station's desk on its own database, fuellings through the consumer, and
head office's API on a real port reached with a station server's API key."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg

from business_services.audit.model import Actor
from business_services.bootstrap import build_bus
from business_services.consumer import EventConsumer
from business_services.ic_cards.desk import Desk, GreyList, Reader
from business_services.ic_cards.model import Psam
from business_services.ic_cards.provider import IcCardProvider
from business_services.ic_cards.reader import ReaderLink
from business_services.online_payments.station_keys import issue_station_key
from business_services.payments.registry import Providers
from forecourt.roles import Role, policy
from simulators.card_reader.server import CardReaderServer, CardReaderSim
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.events.fuelling import FuellingCompleted

ISSUER_KEY = bytes(range(16))
PSAM = Psam(ISSUER_KEY)
CARD = "1000113200000001"
READERS = {"pos-1": ("pos-1", 0), "disp-01/1": ("disp-01", 1), "disp-01/2": ("disp-01", 2)}


@contextlib.asynccontextmanager
async def card_readers(names: list[str]) -> AsyncIterator[tuple[CardReaderSim, ReaderLink]]:
    sim = CardReaderSim.with_readers(ISSUER_KEY, names)
    async with CardReaderServer(sim) as server, ReaderLink("127.0.0.1", server.port, timeout_s=2.0) as link:
        yield sim, link


def desk(url: str, station: str, sim: CardReaderSim, link: ReaderLink, *, grey_list: GreyList | None = None,
         now: Callable[[], datetime] | None = None, delay: timedelta = timedelta(minutes=10)) -> Desk:
    readers = {name: Reader(name, link.slot(sim.address(name)), *READERS[name]) for name in READERS
               if any(s.name == name for s in sim.readers.values())}
    made = Desk(station, url, readers, PSAM, build_bus(policy(Role.STATION).contexts), grey_list=grey_list,
                delay=delay, now=now or (lambda: datetime.now(UTC)))
    made.providers = Providers([IcCardProvider(made)])
    return made


def fuelling(station: str, fp: int, transaction: int, amount_fen: int, at: datetime | None = None) -> FuellingCompleted:
    ended = at or datetime.now(UTC)
    volume = Decimal(amount_fen) / Decimal(789)
    volume = volume.quantize(Decimal("0.01"))
    return FuellingCompleted(station=station, pump="disp-01", fuelling_point=fp, nozzle=1, grade=92,
                             transaction=transaction, volume_l=volume, amount_fen=amount_fen, price_fen_per_l=789,
                             totalizer_before_l=Decimal("1000.00"), totalizer_after_l=Decimal("1000.00") + volume,
                             started_at=ended - timedelta(minutes=2), ended_at=ended)


async def deliver(url: str, broker: BrokerAddress, payload: Any, station: str, role: Role = Role.STATION) -> None:
    """One event through the business consumer of ``role`` (recorded once by its id)."""
    consumer = EventConsumer(url, broker, bus=build_bus(policy(role).contexts))
    event = payload.envelope(source=f"station:{station}", event_id=payload.event_id())
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await consumer.handle(conn, f"forecourt/v1/g/{station}/events/{event.type}", event.to_bytes())
    dead = await rows(url, "SELECT error FROM business.event_dead_letters")
    assert dead == [], dead


async def rows(url: str, query: str, *args: object) -> list[tuple[Any, ...]]:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        return await (await conn.execute(query, args)).fetchall()   # type: ignore[arg-type]


async def outbox(url: str, event_type: str) -> list[dict[str, Any]]:
    """The data of each event of ``event_type`` the station's outbox holds, in order."""
    found = await rows(url, "SELECT payload FROM business.outbox WHERE topic LIKE %s ORDER BY seq", f"%/{event_type}")
    return [payload["data"] for (payload,) in found]


async def station_key(head_office_url: str, station: str) -> str:
    async with await psycopg.AsyncConnection.connect(head_office_url, autocommit=True) as conn:
        return await issue_station_key(conn, station, Actor(name="admin", source="test"))
