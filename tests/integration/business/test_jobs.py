"""Scheduled jobs (business_services/jobs): old Idempotency-Keys and export files go, new ones stay; two
business processes defer each periodic tick once and run each job once."""

from __future__ import annotations

import asyncio
import time
import uuid

import psycopg
import pytest
from procrastinate import App
from procrastinate.periodic import PeriodicDeferrer

from business_services import jobs

pytestmark = pytest.mark.integration


async def _seed(database_url: str) -> dict[str, uuid.UUID]:
    """Two keys and three export jobs: one of each older than it is kept, and a running export that is old but
    still moving."""
    ids = {name: uuid.uuid4() for name in ("old_file", "new_file", "running")}
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        await conn.execute("INSERT INTO business.api_idempotency (caller, key, request_hash, status, created_at) "
                           "VALUES ('li.si', 'old-key-1', '\\x00', 200, now() - interval '25 hours'), "
                           "('li.si', 'new-key-1', '\\x00', 200, now() - interval '23 hours')")
        await conn.execute(
            "INSERT INTO business.export_jobs (id, owner, kind, filters, status, file, created, updated) VALUES "
            "(%s, 'li.si', 'audit', '{}', 'done', '\\x504b', now() - interval '9 days', now() - interval '8 days'), "
            "(%s, 'li.si', 'audit', '{}', 'done', '\\x504b', now() - interval '6 days', now() - interval '6 days'), "
            "(%s, 'li.si', 'audit', '{}', 'running', NULL, now() - interval '9 days', now())",
            (ids["old_file"], ids["new_file"], ids["running"]))
        await conn.commit()
    return ids


async def _defer_this_tick(app: App, at: float) -> None:
    """What a worker's periodic deferrer does when it starts: defer each job's latest tick before ``at`` (one
    ``at`` for both workers: a minute turning between their two calls would make two ticks of the minutely jobs)."""
    deferrer = PeriodicDeferrer(app.periodic_registry, max_delay=2 * 86400)
    await deferrer.defer_jobs(deferrer.get_previous_tasks(at=at))


async def test_old_keys_and_exports_are_deleted_once_by_two_workers(database_url: str) -> None:
    ids = await _seed(database_url)
    first, second = jobs.build_app(database_url), jobs.build_app(database_url)   # two business processes
    async with first.open_async(), second.open_async():
        now = time.time()
        await asyncio.gather(_defer_this_tick(first, now), _defer_this_tick(second, now))
        await asyncio.gather(*(app.run_worker_async(queues=jobs.QUEUES, wait=False, install_signal_handlers=False,
                                                    name=name) for app, name in ((first, "a"), (second, "b"))))

    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        keys = await (await conn.execute("SELECT key FROM business.api_idempotency")).fetchall()
        assert keys == [("new-key-1",)]
        exports = await (await conn.execute("SELECT id FROM business.export_jobs")).fetchall()
        assert sorted(r[0] for r in exports) == sorted([ids["new_file"], ids["running"]])
        ran = await (await conn.execute(
            "SELECT j.task_name, j.status::text, count(e.id) FROM procrastinate_jobs j "
            "LEFT JOIN procrastinate_events e ON e.job_id = j.id AND e.type = 'started' "
            "GROUP BY j.task_name, j.status ORDER BY j.task_name")).fetchall()
        assert ran == [("bank_poll", "succeeded", 1),             # docs/fleets.md (no bank set up: nothing)
                       ("compact_member_list", "succeeded", 1),   # docs/offline-members.md
                       ("deliver_fleet_webhooks", "succeeded", 1),   # docs/fleet-open-api.md
                       ("drive_through_push_sweep", "succeeded", 1),   # docs/h5.md
                       ("expire_points", "succeeded", 1),   # docs/points.md
                       ("fleet_dunning", "succeeded", 1), ("fleet_dunning_sms", "succeeded", 1),
                       ("fleet_statements", "succeeded", 1),   # docs/fleets.md
                       ("forget_old_exports", "succeeded", 1), ("forget_old_idempotency_keys", "succeeded", 1),
                       ("forget_old_login_codes", "succeeded", 1),   # docs/h5.md
                       ("member_level_review", "succeeded", 1), ("member_lifecycles", "succeeded", 1),
                       ("member_rule_tags", "succeeded", 1),      # docs/members.md
                       ("notifications_sweep", "succeeded", 1),   # docs/notifications.md
                       ("reconcile_station_shifts", "succeeded", 1),
                       ("reconcile_tanks", "succeeded", 1),
                       ("release_expired_fleet_reservations", "succeeded", 1),   # docs/fleets.md
                       ("resend_unapplied_lists", "succeeded", 1),
                       ("resend_unapplied_price_sets", "succeeded", 1), ("run_leak_tests", "succeeded", 1),
                       ("send_due_price_changes", "succeeded", 1)]


async def test_a_job_deferred_by_hand_runs_once_among_two_workers(database_url: str) -> None:
    first, second = jobs.build_app(database_url), jobs.build_app(database_url)
    async with first.open_async(), second.open_async():
        deferred = [await first.tasks["forget_old_exports"].defer_async() for _ in range(10)]
        await asyncio.gather(*(app.run_worker_async(queues=[jobs.QUEUE], wait=False, install_signal_handlers=False,
                                                    concurrency=3) for app in (first, second)))
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        started = await (await conn.execute(
            "SELECT count(e.id) FROM procrastinate_jobs j LEFT JOIN procrastinate_events e "
            "ON e.job_id = j.id AND e.type = 'started' WHERE j.id = ANY(%s) GROUP BY j.id", (deferred,))).fetchall()
        assert started == [(1,)] * 10      # (a periodic tick the workers deferred meanwhile is not counted)
