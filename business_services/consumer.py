"""The business plane's event consumer: CloudEvents from MQTT into handlers, each exactly once.

Subscribes (QoS 1, persistent session) to ``forecourt/v1/{group}/+/events/#`` (every company by default).
For each message: ``intake.admit`` checks it before the database sees it (topic, size, envelope, id,
type, and that the payload speaks for the station of the topic the broker authorised); then, in one
transaction, its id goes into ``business.handled_events`` (a repeat stops here), the handler registered
for its type runs through the message bus in a ``UnitOfWork`` (``business_services/bootstrap.py`` wires every
context's handlers; each parses the payload with its model from ``telemetry.contracts.events``), and only
after the commit is the MQTT message acknowledged, so a crash before the commit makes the broker deliver it
again.

Several processes may run, each with its own ``Partition`` (``FORECOURT_BUSINESS_PARTITION=i/N``) and so its
own persistent session: each receives every event, handles its stations' and acknowledges the others' at
once (``business_services/partition.py``), so an event is handled by one process, a station's in order.

Only a database outage (a lost connection, or SQLSTATE classes 08, 53, 57, 58) makes an event wait and be
retried. Anything else (a broken rule, a forged station, data a handler cannot record) goes to
``business.event_dead_letters`` with its kind and reason, and the next event carries on. While an event
waits, ``stalled_s`` grows; ``health()`` turns red (``/healthz`` 503) once it passes ``stall_after_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

import aiomqtt
import psycopg
from prometheus_client import CollectorRegistry, Counter, Gauge

from business_services import dead_letters
from business_services.audit.model import Actor
from business_services.bootstrap import build_bus
from business_services.intake import Admitted, Rejected, admit, sanitised
from business_services.messagebus import MessageBus
from business_services.partition import Partition
from business_services.unit_of_work import UnitOfWork
from protocol_adapters.mqtt.client import ack, ack_after_commit, keep_sessions, persistent_session
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.topics import events_filter

log = logging.getLogger(__name__)

WHOLE = Partition()   # one process handles every station

#: The business consumer's own series (its /metrics), apart from every other service's.
REGISTRY = CollectorRegistry(auto_describe=True)
EVENTS = Counter("forecourt_business_events_total", "Events by outcome", ["type", "outcome"], registry=REGISTRY)
OTHERS = Counter("forecourt_business_other_partition_total", "Events acknowledged for another partition's process",
                 registry=REGISTRY)
DEAD_LETTERS = Counter("forecourt_business_dead_letters_total", "Events kept out of the books, by kind", ["kind"],
                       registry=REGISTRY)
FORGED = Counter("forecourt_business_forged_events_total",
                 "Events whose payload claims another station than their topic (security)", registry=REGISTRY)
STALLED = Gauge("forecourt_business_stalled_seconds",
                "How long the event in hand has waited for the database (0 when none waits)", registry=REGISTRY)

OUTAGE_SQLSTATE_CLASSES = frozenset({"08", "53", "57", "58"})   # connection, resources, operator, system


def is_outage(exc: psycopg.Error, connection_lost: bool) -> bool:
    """Whether a database error means "the database is not there" (wait and retry) rather than "this event
    cannot be recorded" (dead letter). An error with no SQLSTATE came from the client: an outage only when
    the connection is gone (a NUL byte in a text parameter is a ``DataError`` with no SQLSTATE)."""
    if connection_lost:
        return True
    if exc.sqlstate is None:
        return isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError)
    return exc.sqlstate[:2] in OUTAGE_SQLSTATE_CLASSES


class EventConsumer:
    def __init__(self, database_url: str, broker: BrokerAddress, *, client_id: str = "forecourt-business",
                 bus: MessageBus | None = None, partition: Partition = WHOLE, group: str = "+",
                 station: str = "+", stall_after_s: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.database_url = database_url
        self.broker = broker
        self.partition = partition
        self.client_id = partition.client_id(client_id)
        self.bus = bus or build_bus()
        self.topic_filter = events_filter(group, station)   # one station's events only: a station server
        self.stall_after_s = stall_after_s
        self.subscribed = asyncio.Event()
        self.handled = 0                          # messages finished (recorded, repeated, ignored or dead-lettered)
        self._clock = clock
        self._waiting_since: float | None = None
        self._conn: psycopg.AsyncConnection | None = None

    # --- health ------------------------------------------------------------------------------------

    def stalled_s(self) -> float:
        """Seconds the message in hand has been waiting; 0 when the consumer is idle or just got it."""
        return 0.0 if self._waiting_since is None else max(0.0, self._clock() - self._waiting_since)

    def health(self) -> dict[str, object]:
        stalled = self.stalled_s()
        STALLED.set(stalled)
        ok = self.subscribed.is_set() and stalled < self.stall_after_s
        return {"ok": ok, "subscribed": self.subscribed.is_set(), "stalled_s": round(stalled, 1),
                "handled": self.handled, "subscription": self.topic_filter, "partition": str(self.partition)}

    # --- the MQTT loop -----------------------------------------------------------------------------

    async def run(self) -> None:
        await keep_sessions(self._session, self.subscribed.clear, log)

    async def _session(self) -> None:
        kwargs = self.broker.client_kwargs()
        kwargs.update(persistent_session(self.client_id) if self.broker.mqtt5 else
                      {"identifier": self.client_id, "clean_session": False})
        async with aiomqtt.Client(**kwargs) as client:
            ack_after_commit(client)
            await client.subscribe(self.topic_filter, qos=1)
            self.subscribed.set()
            async for message in client.messages:
                topic = str(message.topic)
                if not self.partition.owns(topic):
                    OTHERS.inc()
                    ack(client, message)
                    continue
                raw = bytes(message.payload) if isinstance(message.payload, (bytes, bytearray)) else b""
                await self._handle_until_done(topic, raw)
                ack(client, message)

    async def _handle_until_done(self, topic: str, raw: bytes) -> None:
        """Handle one message, waiting out database outages (and only those) with back-off."""
        self._waiting_since = self._clock()
        delay = 0.2
        try:
            while True:
                try:
                    if self._conn is None or self._conn.closed:
                        self._conn = await psycopg.AsyncConnection.connect(self.database_url, autocommit=True)
                    await self.handle(self._conn, topic, raw)
                    self.handled += 1
                    return
                except psycopg.Error as exc:   # handle() lets only outages through
                    STALLED.set(self.stalled_s())
                    log.warning("database unavailable (%s); retrying in %.1fs, the event waits (%.0fs so far)",
                                sanitised(str(exc), 200), delay, self.stalled_s())
                    if self._conn is not None:
                        with contextlib.suppress(psycopg.Error):
                            await self._conn.close()
                    self._conn = None
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 5.0)
        finally:
            self._waiting_since = None
            STALLED.set(0)

    # --- one message -------------------------------------------------------------------------------

    async def handle(self, conn: psycopg.AsyncConnection, topic: str, raw: bytes) -> None:
        """Record one message, or dead-letter it; raises only ``psycopg.Error`` for a database outage."""
        verdict = admit(topic, raw)
        if isinstance(verdict, Rejected):
            await self._dead_letter(conn, topic, raw, verdict)
            return
        event, origin = verdict.event, verdict.origin
        if not self.bus.handles(event):
            EVENTS.labels(event.type, "ignored").inc()
            return
        try:
            async with UnitOfWork(conn, Actor(f"edge:{origin.station}", "mqtt")) as uow:
                cur = await conn.execute(
                    "INSERT INTO business.handled_events (event_id, event_type) VALUES (%s, %s) "
                    "ON CONFLICT DO NOTHING", (event.id, event.type))
                if cur.rowcount == 0:
                    EVENTS.labels(event.type, "repeat").inc()
                    return
                await self.bus.handle(event, uow)
        except psycopg.Error as exc:
            if is_outage(exc, conn.closed or conn.broken):
                raise
            await self._unrecordable(conn, topic, raw, verdict, exc)
            return
        except Exception as exc:   # a handler that cannot take this data must not stop the loop
            await self._unrecordable(conn, topic, raw, verdict, exc)
            return
        EVENTS.labels(event.type, "handled").inc()

    async def _unrecordable(self, conn: psycopg.AsyncConnection, topic: str, raw: bytes, admitted: Admitted,
                            exc: Exception) -> None:
        reason = f"{admitted.event.type} {admitted.event.id}: {type(exc).__name__}: {exc}"
        await self._dead_letter(conn, topic, raw, Rejected("handler", sanitised(reason), admitted.origin.station))

    async def _dead_letter(self, conn: psycopg.AsyncConnection, topic: str, raw: bytes, rejected: Rejected) -> None:
        DEAD_LETTERS.labels(rejected.kind).inc()
        if rejected.kind == "security":
            FORGED.inc()
            log.warning("SECURITY: forged event refused: topic station %s, claimed station %s (%s)",
                        rejected.topic_station, rejected.claimed_station, sanitised(topic, 200))
        else:
            log.warning("event dead letter (%s) from %s: %s", rejected.kind, sanitised(topic, 200), rejected.reason)
        try:
            await dead_letters.keep(conn, topic, raw, rejected)
        except psycopg.Error as exc:
            if is_outage(exc, conn.closed or conn.broken):
                raise
            log.error("could not keep the dead letter from %s (%s): %s", sanitised(topic, 200), rejected.reason,
                      sanitised(str(exc), 200))
            DEAD_LETTERS.labels("lost").inc()
