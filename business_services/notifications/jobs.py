"""The notifications' procrastinate jobs: a route's step at its due time (the first message, or an escalation
after N minutes unacknowledged), each message's send with retries, and a sweep for work whose job was lost.

- ``notifications.run_step`` ``{alarm_id, route_id, step}``: in one transaction, the step's row (locked) is
  done or cancelled, and, when it still sends (``model.step_sends``), one delivery per recipient is written
  with its send job; an escalation also emits ``alarm.escalated`` through the outbox.
- ``notifications.send`` ``{delivery_id}``: claim the delivery (one transaction), call the channel (no
  transaction open while the provider answers), record the outcome (another): sent, or tried again after
  ``model.retry_after_s`` (a job deferred in that transaction), or failed for good.
- ``notifications_sweep`` every minute: anything well past due without a job (see ``repository.overdue``).

Deliveries are unique per (alarm, route, step, recipient) and a claim takes only a ``pending`` row, so a job
run twice, two workers, or a redelivered event never send a message twice. The one window left: a worker
killed after the provider accepted a message and before its outcome committed; the sweep sends it again
after 10 minutes (the webhook carries ``X-Forecourt-Delivery`` and the SMS ``OutId`` so a receiver can tell).

The functions take an autocommit connection (procrastinate's pool gives one) and open their own transactions.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import procrastinate
from procrastinate import JobContext

from business_services.audit.model import Actor
from business_services.notifications import repository
from business_services.notifications.channels import Message, MessagingConfig, Notifier, SendFailed, notifiers
from business_services.notifications.model import gives_up, mask_address, retry_after_s, step_sends
from business_services.stations.views import event_topic_for
from business_services.unit_of_work import UnitOfWork
from telemetry.contracts.events.alarms import AlarmEscalated, AlarmState, Priority

log = logging.getLogger(__name__)
STUCK_AFTER = timedelta(minutes=10)
_ESCALATED_NS = uuid.UUID("3c0f7d7e-8a51-4f0e-9d1b-2a6c4e5f7b90")

Conn = repository.Conn


def escalated_event_id(alarm_id: uuid.UUID, route_id: int, step: int) -> str:
    """``alarm.escalated`` is notifications' record, not an engine transition: its id comes from (alarm, route,
    step), so it never collides with the engine's (alarm_id, seq) ids and a step emits it once."""
    return str(uuid.uuid5(_ESCALATED_NS, f"{alarm_id}/{route_id}/{step}"))


async def run_step(conn: Conn, alarm_id: uuid.UUID, route_id: int, step_no: int, now: datetime) -> int:
    """Run one due step; returns how many deliveries it wrote (0 when done before, cancelled or not due)."""
    async with UnitOfWork(conn, Actor.system("notifications")) as uow:
        step_row = await repository.waiting_step(conn, alarm_id, route_id, step_no)
        if step_row is None or step_row["due_at"] > now:
            return 0
        alarm = await repository.alarm(conn, alarm_id)
        route_row = await repository.route(conn, route_id)
        if alarm is None:   # a step is only written with its alarm (a foreign key)
            raise LookupError(f"alarm {alarm_id} of a notification step is gone")
        if route_row is None or not route_row["enabled"] or step_no >= len(route_row["steps"]):
            await repository.finish_step(conn, alarm_id, route_id, step_no, "cancelled", "路由已删除或停用")
            return 0
        state, active = AlarmState(alarm["state"]), bool(alarm["active"])
        if not step_sends(step_no, state, active):
            await repository.finish_step(conn, alarm_id, route_id, step_no, "cancelled",
                                         f"报警已{state.value}，不再升级 (alarm is {state.value})")
            return 0
        step = repository.route_from_row(route_row).steps[step_no]
        written = 0
        recipients = await repository.addresses(conn, step)
        for recipient, address in recipients:
            if await repository.add_delivery(conn, alarm_id, route_id, step_no, step.channel, recipient, address, now):
                written += 1
        outcome = f"{step.channel} → {len(recipients)} 位接收人"
        await repository.finish_step(conn, alarm_id, route_id, step_no, "done", outcome)
        if step_no > 0:
            event = AlarmEscalated(
                alarm_id=alarm_id, seq=alarm["last_seq"], station=alarm["station"], rule=alarm["rule"],
                source=alarm["source"], area=alarm["area"], priority=Priority(alarm["priority"]), kind=alarm["kind"],
                state_from=state, state_to=state, active=active, value=alarm["value"], limit=alarm["limit"],
                unit=alarm["unit"], message=alarm["message"], by="notifications",
                comment=f"未确认 {step.after_minutes:g} 分钟，第 {step_no} 级升级：{outcome} "
                        f"(路由 {route_row['name']})",
                at=now)
            uow.emit(await event_topic_for(conn, alarm["station"], AlarmEscalated.TYPE),
                     event.envelope(source="notifications", event_id=escalated_event_id(alarm_id, route_id, step_no)))
            log.info("alarm %s escalated, step %d of route %d: %s", alarm_id, step_no, route_id, outcome)
    return written


def message_of(row: dict[str, Any]) -> Message:
    value = "" if row["value"] is None else f"{row['value']:g} {row['unit']}".strip()
    if row["limit"] is not None:
        value += f" (限值 {row['limit']:g})"
    return Message(delivery_id=row["id"], alarm_id=str(row["alarm_id"]), step=row["step"], address=row["address"],
                   station=row["station"], priority=row["priority"], text=row["message"] or "报警", value=value,
                   raised_at=row["raised_at"])


async def send_delivery(conn: Conn, channels: dict[str, Notifier], delivery_id: int,
                        now: datetime | None = None) -> str:
    """Send one delivery if it is pending and due; returns its status afterwards ('' when not taken)."""
    async with conn.transaction():
        row = await repository.claim_delivery(conn, delivery_id, now or datetime.now(UTC))
    if row is None:
        return ""
    masked = mask_address(row["channel"], row["address"])
    try:
        provider_id = await channels[row["channel"]].send(message_of(row))
    except SendFailed as failure:
        done = gives_up(row["attempts"], failure.retryable)
        retry_at = None if done else await repository.now(conn) + timedelta(seconds=retry_after_s(row["attempts"]))
        async with conn.transaction():
            await repository.failed(conn, delivery_id, str(failure), retry_at)
        log.warning("notification %d (%s to %s, attempt %d) failed: %s; %s", delivery_id, row["channel"], masked,
                    row["attempts"], failure, "given up" if done else f"again at {retry_at:%H:%M:%S}")
        return "failed" if done else "pending"
    async with conn.transaction():
        await repository.delivered(conn, delivery_id, provider_id, await repository.now(conn))
    log.info("notification %d sent (%s to %s, step %d)", delivery_id, row["channel"], masked, row["step"])
    return "sent"


async def sweep(conn: Conn, channels: dict[str, Notifier], now: datetime) -> int:
    async with conn.transaction():
        steps, deliveries = await repository.overdue(conn, now, now - STUCK_AFTER)
    done = 0
    for alarm_id, route_id, step in steps:
        done += await run_step(conn, alarm_id, route_id, step, now)
    for delivery_id in deliveries:
        done += bool(await send_delivery(conn, channels, delivery_id, now))
    return done


def register(app: procrastinate.App, config: MessagingConfig | None,
             channels: dict[str, Notifier] | None = None) -> None:
    """The notifications tasks on ``app`` (``business_services/jobs``). ``channels`` for tests; else made from
    ``config`` (the installation's settings); without either, sends fail (and are retried) until configured."""
    chosen = channels if channels is not None else notifiers(config or MessagingConfig())

    def pool(context: JobContext) -> Any:
        return context.app.connector.pool  # type: ignore[attr-defined]   # PsycopgConnector's

    # "now" is the database's, the clock procrastinate schedules by: a worker whose clock lags never finds a
    # job it was handed not yet due

    @app.task(name=repository.STEP_TASK, queue=repository.QUEUE, pass_context=True)
    async def step_task(context: JobContext, alarm_id: str, route_id: int, step: int) -> int:
        async with pool(context).connection() as conn:
            return await run_step(conn, uuid.UUID(alarm_id), route_id, step, await repository.now(conn))

    @app.task(name=repository.SEND_TASK, queue=repository.QUEUE, pass_context=True)
    async def send_task(context: JobContext, delivery_id: int) -> str:
        async with pool(context).connection() as conn:
            return await send_delivery(conn, chosen, delivery_id, await repository.now(conn))

    @app.periodic(cron="* * * * *", periodic_id="notifications_sweep")
    @app.task(name="notifications_sweep", queue=repository.QUEUE, pass_context=True)
    async def sweep_task(context: JobContext, timestamp: int = 0) -> int:
        async with pool(context).connection() as conn:
            return await sweep(conn, chosen, await repository.now(conn))
