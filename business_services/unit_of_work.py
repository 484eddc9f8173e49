"""The unit of work: one transaction in which handlers write their rows, audit their sensitive actions and
emit events; all of it commits together or none of it does.

    async with UnitOfWork(conn, actor) as uow:
        await repository.save(uow.conn, thing)
        await uow.audit(AuditEntry("stations.nozzle.change", "demo-01/fp1/n2", "demo-01", before, after))
        uow.emit(topic, event)

Emitted events are written to ``business.outbox`` inside the transaction, just before it commits, and
published to MQTT after the commit by ``business_services/outbox.py``: an event is never published for a
change that rolled back, and never lost for one that committed. Audit records join the chain in the same
transaction (``business_services/audit``), so an action and its record cannot part. Events raised for
this process's own handlers (``raise_event``) are handled by the message bus in this same unit of work, and
their ids join ``business.handled_events`` with it: when the same event comes back over MQTT (a station
server receives what its own outbox published), the consumer sees a repeat and changes nothing.
"""

from __future__ import annotations

import contextlib
from types import TracebackType
from typing import Self

import psycopg
from psycopg.types.json import Jsonb

from business_services.audit import repository as audit_log
from business_services.audit.model import Actor, AuditEntry
from telemetry.contracts.events import CloudEvent


class UnitOfWork:
    def __init__(self, conn: psycopg.AsyncConnection, actor: Actor) -> None:
        self.conn = conn
        self.actor = actor
        self._events: list[tuple[str, CloudEvent]] = []
        self._raised: list[CloudEvent] = []
        self._handled_here: list[CloudEvent] = []
        self._stack = contextlib.AsyncExitStack()

    async def __aenter__(self) -> Self:
        await self._stack.enter_async_context(self.conn.transaction())
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if exc is None:
            try:
                await self._write_outbox()
            except BaseException as failure:
                await self._stack.__aexit__(type(failure), failure, failure.__traceback__)
                raise
        await self._stack.__aexit__(exc_type, exc, tb)

    def emit(self, topic: str, event: CloudEvent) -> None:
        """Publish ``event`` on ``topic`` once this unit of work commits."""
        self._events.append((topic, event))

    def raise_event(self, event: CloudEvent) -> None:
        """Hand ``event`` to this process's own handlers, in this unit of work (``business_services/messagebus.py``)."""
        self._raised.append(event)
        self._handled_here.append(event)

    def take_raised(self) -> list[CloudEvent]:
        raised, self._raised = self._raised, []
        return raised

    async def audit(self, entry: AuditEntry) -> int:
        """Add a record to the audit chain, in this transaction; returns its seq."""
        return await audit_log.append(self.conn, self.actor, entry)

    async def _write_outbox(self) -> None:
        for event in self._handled_here:
            await self.conn.execute(
                "INSERT INTO business.handled_events (event_id, event_type) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                (event.id, event.type))
        self._handled_here.clear()
        if self._events:   # delivered at commit only: wakes the outbox publisher (OUTBOX_CHANNEL)
            await self.conn.execute("SELECT pg_notify('business_outbox', '')")
        for topic, event in self._events:
            await self.conn.execute(
                "INSERT INTO business.outbox (event_id, topic, payload) VALUES (%s, %s, %s) "
                "ON CONFLICT (event_id) DO NOTHING",
                (event.id, topic, Jsonb(event.model_dump(mode="json", exclude_none=True))))
        self._events.clear()
