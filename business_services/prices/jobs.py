"""The prices context's scheduled work (registered in ``business_services/jobs``, docs/how-to/add-a-job.md).

``send_due_price_changes`` sends every scheduled change whose time has come. It runs every minute (the sweep:
a restart, a stopped worker or a lost job never loses a change) and is also deferred at each change's own time
by the handler that schedules it (``repository.defer_send``, in the same transaction as the change), so a change
goes out on time to the second. Sending is a conditional move ``scheduled → sent``: run twice, it sends once.
``resend_unapplied_price_sets`` puts a station's newest set back on the outbox (same event id) while its edge
node has answered nothing for a minute: a station offline at the scheduled time gets it when it returns.
"""

from __future__ import annotations

from typing import Any

import psycopg

from business_services.audit.model import Actor
from business_services.prices import handlers, repository
from business_services.unit_of_work import UnitOfWork

SEND_TASK = handlers.SEND_TASK


async def send_due_price_changes(conn: psycopg.AsyncConnection[Any]) -> int:
    """Sets sent for due changes (on the job's connection and transaction)."""
    async with UnitOfWork(conn, Actor.system("jobs")) as uow:
        return await handlers.send_due(handlers.SendDuePriceChanges(), uow)


async def resend_unapplied_price_sets(conn: psycopg.AsyncConnection[Any],
                                      after_s: int = repository.RESEND_AFTER_S) -> int:
    """Sets sent again: each station's newest set not in force, its edge silent for ``after_s`` seconds."""
    return await repository.resend_unapplied_sets(conn, after_s)
