"""Scheduled jobs: one procrastinate app on the business database, its periodic tasks listed in ``JOBS``.

Jobs live in PostgreSQL (procrastinate's tables, created by ``jobs/migrations`` like every other table), so a
deferred job outlives the process that deferred it, and a job runs once however many workers there are: a
worker takes a job with ``FOR UPDATE SKIP LOCKED``, and each periodic tick is deferred once (a unique row per
task and tick). The business service runs a worker (``forecourt/services.py``). docs/how-to/add-a-job.md.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import procrastinate
import psycopg
from procrastinate import JobContext, PsycopgConnector

from business_services.access import repository as access
from business_services.customers import repository as customers
from business_services.drive_through import push as drive_through_push
from business_services.exports import repository as exports
from business_services.fleets import authorisation as fleet_authorisation
from business_services.fleets import bank as fleet_bank
from business_services.fleets import dunning_sms as fleet_dunning_sms
from business_services.fleets import receivables as fleet_receivables
from business_services.fleets import statements as fleet_statements
from business_services.fleets import webhooks as fleet_webhooks
from business_services.inventory import leak_job
from business_services.inventory.handlers import reconcile_due
from business_services.member_list import repository as member_list
from business_services.members import jobs as members
from business_services.notifications import jobs as notifications
from business_services.notifications.channels import MessagingConfig
from business_services.notifications.repository import QUEUE as NOTIFICATIONS_QUEUE
from business_services.points import jobs as points
from business_services.prices import jobs as prices
from business_services.station_shifts.handlers import reconcile_all
from business_services.stations import repository as stations

log = logging.getLogger(__name__)
QUEUE = "housekeeping"


@dataclass(frozen=True, slots=True)
class Job:
    name: str
    cron: str                                                     # when, in the server's clock (UTC)
    run: Callable[[psycopg.AsyncConnection[Any]], Awaitable[int]]  # its work in one transaction; rows it changed


async def reconcile_station_shifts(conn: psycopg.AsyncConnection[Any]) -> int:
    """Head office's pull: every station shift whose verdict may still change, evaluated now (docs/reconciliation.md;
    on a station server there are no copies and nothing to do)."""
    return sum((await reconcile_all(conn, datetime.now(UTC))).values())


async def reconcile_tanks(conn: psycopg.AsyncConnection[Any]) -> int:
    """Wet stock: yesterday's and each recently closed shift's tank reconciliation, where the sales are owned
    (a station server; head office holds no shifts of its own, so nothing to do there). docs/inventory.md."""
    return await reconcile_due(conn, datetime.now(UTC))


JOBS = (
    Job("forget_old_idempotency_keys", "17 * * * *", access.forget_old_idempotency_keys),
    Job("forget_old_exports", "23 19 * * *", exports.forget_old),   # 03:23 China time, when nobody exports
    Job("reconcile_station_shifts", "*/10 * * * *", reconcile_station_shifts),
    Job("resend_unapplied_lists", "* * * * *", stations.resend_unapplied_lists),   # a station that missed its list
    Job(prices.SEND_TASK, "* * * * *", prices.send_due_price_changes),   # also deferred at each change's time
    Job("resend_unapplied_price_sets", "* * * * *", prices.resend_unapplied_price_sets),
    Job("reconcile_tanks", "7,37 * * * *", reconcile_tanks),   # twice an hour: shifts soon after they close
    Job(leak_job.TASK, leak_job.CRON, leak_job.run_leak_tests),   # SIR over the daily reconciliation
    Job("member_lifecycles", members.LIFECYCLE_CRON, members.refresh_lifecycles),   # RFM: new/active/dormant/lost
    Job("member_rule_tags", members.RULE_TAGS_CRON, members.apply_rule_tags),       # e.g. 近30天加油≥4次
    Job("member_level_review", members.REVIEW_CRON, members.review_levels),         # yearly: downgrades
    Job(points.TASK, points.CRON, points.expire_points),   # expired points lots (head office; none at a station)
    Job("compact_member_list", "41 19 * * *", member_list.compact),   # superseded changes of the stations' list
    Job(fleet_webhooks.TASK, fleet_webhooks.CRON, fleet_webhooks.run),   # fuelling.completed to partners
    Job(fleet_authorisation.TASK, fleet_authorisation.CRON, fleet_authorisation.release_expired_now),   # unused presets
    Job("fleet_statements", "5 16 * * *", fleet_statements.issue_job),   # 00:05 China time: statement_day cuts
    Job("fleet_dunning", "0 1 * * *", fleet_receivables.dun_job),        # 09:00 China time: overdue statements
    # (each notice then goes out by SMS: fleet_dunning_sms, every minute, registered below)
    Job("bank_poll", "*/5 * * * *", fleet_bank.poll_job),                # transfers no notification brought
    Job("forget_old_login_codes", "29 * * * *", customers.forget_old),   # the H5's SMS codes, after a day
)


def _task(job: Job) -> Callable[..., Awaitable[int]]:
    async def run(context: JobContext, timestamp: int = 0) -> int:
        """``timestamp``: the periodic tick that deferred it (procrastinate passes it; 0 when deferred by hand)."""
        pool = context.app.connector.pool  # type: ignore[attr-defined]   # PsycopgConnector's
        async with pool.connection() as conn, conn.transaction():
            changed = await job.run(conn)
        log.info("job %s (tick %s): %d rows", job.name, timestamp, changed)
        return changed
    run.__name__ = job.name
    return run


def build_app(database_url: str, schedule: Sequence[Job] = JOBS, messaging: MessagingConfig | None = None
              ) -> procrastinate.App:
    """The app with every job of ``schedule`` registered as a task and scheduled; open it (``open_async``) before
    use. ``schedule`` is ``JOBS`` but where a test needs a job sooner (a cron line may have a sixth field, seconds).
    ``messaging``: where notifications are sent (SMS, WeChat, webhook; docs/notifications.md)."""
    app = procrastinate.App(connector=PsycopgConnector(conninfo=database_url, min_size=1, max_size=4))
    for job in schedule:
        task = app.task(name=job.name, queue=QUEUE, pass_context=True)(_task(job))
        app.periodic(cron=job.cron, periodic_id=job.name)(task)
    notifications.register(app, messaging)
    drive_through_push.register(app, messaging)   # the members' drive-through notices (docs/h5.md)
    fleet_dunning_sms.register(app, messaging, QUEUE)   # the dunning notices by SMS (docs/fleets.md)
    return app


#: every queue a worker takes jobs from
QUEUES = [QUEUE, NOTIFICATIONS_QUEUE]


async def work(database_url: str, name: str = "business", schedule: Sequence[Job] = JOBS,
               messaging: MessagingConfig | None = None) -> None:
    """Run a worker until cancelled: it defers each periodic tick (once across workers) and runs the jobs."""
    app = build_app(database_url, schedule, messaging)
    async with app.open_async():
        await app.run_worker_async(name=name, queues=QUEUES, install_signal_handlers=False)
