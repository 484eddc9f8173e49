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

``UnitOfWork(conn, actor, joined=True)`` does its work in a transaction the caller already opened on
``conn`` (no savepoint) and leaves the commit to the caller, who commits or rolls back everything at once:
the station server's at-once payments share their transactions with their idempotency key
(``control_api/idempotency.py::once_in_two_transactions``). Given ``with_commit`` as well, it does not send
its outbox statement either: it binds it on the client (values quoted by psycopg) and appends it to that list,
for the caller to send in one round trip with its own last statement and the ``COMMIT`` (the pay endpoint's
answer: one round trip a payment fewer).
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
    def __init__(self, conn: psycopg.AsyncConnection, actor: Actor, *, joined: bool = False,
                 with_commit: list[str] | None = None) -> None:
        if with_commit is not None and not joined:
            raise ValueError("with_commit is for a joined unit of work (its caller sends the COMMIT)")
        self.conn = conn
        self.actor = actor
        self.joined = joined
        self.with_commit = with_commit
        self._events: list[tuple[str, CloudEvent]] = []
        self._raised: list[CloudEvent] = []
        self._handled_here: list[CloudEvent] = []
        self._stack = contextlib.AsyncExitStack()

    async def __aenter__(self) -> Self:
        if not self.joined:
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
        """One statement: the ids of the events handled here, the emitted events in the order emitted, and
        (when there are any) the wake-up of the outbox publisher (OUTBOX_CHANNEL), delivered at commit only."""
        handled, self._handled_here = self._handled_here, []
        emitted, self._events = self._events, []
        if not handled and not emitted:
            return
        events = [{"id": e.id, "topic": t, "event": e.model_dump(mode="json", exclude_none=True)} for t, e in emitted]
        params = ([e.id for e in handled], [e.type for e in handled], Jsonb(events), bool(events))
        if self.with_commit is not None:       # the caller sends it with its COMMIT
            self.with_commit.append(psycopg.AsyncClientCursor(self.conn).mogrify(_OUTBOX, params))
            return
        await self.conn.execute(_OUTBOX, params)


_OUTBOX = """WITH handled AS (INSERT INTO business.handled_events (event_id, event_type)
                             SELECT * FROM unnest(%s::text[], %s::text[]) ON CONFLICT DO NOTHING),
                 emitted AS (INSERT INTO business.outbox (event_id, topic, payload)
                             SELECT e ->> 'id', e ->> 'topic', e -> 'event'
                             FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS x(e, n)
                             ORDER BY n ON CONFLICT (event_id) DO NOTHING)
            SELECT pg_notify('business_outbox', '') WHERE %s"""
