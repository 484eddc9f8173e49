"""Handlers of the notifications context.

Events: every ``alarm.*`` event updates what escalation needs to know of the alarm (its newest state, by
``seq``); ``alarm.raised`` also schedules each matching route's steps (a row per (alarm, route, step) and its
procrastinate job at the step's due time, in the same transaction), so a redelivered raise schedules nothing
twice. The sending itself happens in the jobs (``jobs.py``), outside the consumer's transaction.

Commands (the routes page, ``control_api/routes/notifications.py``): add, change and delete a route; add and
change a contact. Each is audited (``notification.route.*``, ``notification.contact.*``); a contact's phone
and openid are masked in the audit record like every other personal datum.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from business_services.audit.model import AuditEntry
from business_services.messagebus import Handler
from business_services.notifications import repository
from business_services.notifications.model import InvalidRoute, Route, due_at, routes_for
from business_services.unit_of_work import UnitOfWork
from telemetry.contracts.events import CloudEvent
from telemetry.contracts.events.alarms import ALARM_ESCALATED, ALARM_EVENTS, ALARM_RAISED, Priority

log = logging.getLogger(__name__)


async def on_alarm_transition(event: CloudEvent, uow: UnitOfWork) -> int:
    """Keep the alarm's state; on a raise, schedule its routes' steps. Returns how many steps were scheduled."""
    transition = ALARM_EVENTS[event.type].from_event(event)
    raised = event.type == ALARM_RAISED
    await repository.keep_alarm(uow.conn, transition, raised)
    if not raised or transition.priority is Priority.JOURNAL:
        return 0
    row = await repository.alarm(uow.conn, transition.alarm_id)
    if row is None:   # cannot be: kept just above
        raise LookupError(f"alarm {transition.alarm_id} not kept")
    facts = repository.facts(row)
    scheduled = 0
    for route in routes_for(await repository.enabled_routes(uow.conn), facts):
        for number, step in enumerate(route.steps):
            due = due_at(facts, step, datetime.now(UTC))
            if await repository.schedule_step(uow.conn, transition.alarm_id, route.id, number, due):
                scheduled += 1
    log.info("alarm %s at %s (%s): %d notification steps scheduled", transition.alarm_id, transition.station,
             transition.rule, scheduled)
    return scheduled


# --- commands -------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class SaveRoute:
    route: Route                 # id 0: a new route


@dataclass(frozen=True, slots=True)
class DeleteRoute:
    route_id: int


@dataclass(frozen=True, slots=True)
class SaveContact:
    contact_id: int              # 0: a new contact
    name: str
    phone: str | None
    wechat_openid: str | None
    groups: tuple[str, ...]
    enabled: bool = True


class NotFound(LookupError):
    pass


def _route_audit(row: dict[str, object] | None) -> dict[str, object] | None:
    if row is None:
        return None
    return {k: row[k] for k in ("name", "rule", "min_priority", "station", "area", "steps", "enabled")}


async def save_route(cmd: SaveRoute, uow: UnitOfWork) -> int:
    before = None
    if cmd.route.id:
        before = await repository.route(uow.conn, cmd.route.id, lock=True)
        if before is None:
            raise NotFound(f"没有路由 {cmd.route.id} (no notification route {cmd.route.id})")
        await repository.put_route(uow.conn, cmd.route, uow.actor.name)
        route_id = cmd.route.id
    else:
        route_id = await repository.add_route(uow.conn, cmd.route, uow.actor.name)
    after = await repository.route(uow.conn, route_id)
    await uow.audit(AuditEntry("notification.route.save", f"notification-route:{route_id}", cmd.route.station,
                               _route_audit(before), _route_audit(after)))
    return route_id


async def delete_route(cmd: DeleteRoute, uow: UnitOfWork) -> bool:
    before = await repository.route(uow.conn, cmd.route_id, lock=True)
    if before is None:
        return False   # already gone: a retried delete changes nothing
    await repository.delete_route(uow.conn, cmd.route_id)
    await uow.audit(AuditEntry("notification.route.delete", f"notification-route:{cmd.route_id}", before["station"],
                               _route_audit(before), None))
    return True


def _contact_audit(row: dict[str, object] | None) -> dict[str, object] | None:
    if row is None:
        return None
    return {"name": row["name"], "phone": row["phone"], "wechat_openid": row["wechat_openid"],
            "groups": row["groups"], "enabled": row["enabled"]}


async def save_contact(cmd: SaveContact, uow: UnitOfWork) -> int:
    groups = sorted(set(cmd.groups))
    before = None
    if cmd.contact_id:
        before = await repository.contact(uow.conn, cmd.contact_id, lock=True)
        if before is None:
            raise NotFound(f"没有联系人 {cmd.contact_id} (no contact {cmd.contact_id})")
        await repository.put_contact(uow.conn, cmd.contact_id, cmd.name, cmd.phone, cmd.wechat_openid, groups,
                                     cmd.enabled)
        contact_id = cmd.contact_id
    else:
        contact_id = await repository.add_contact(uow.conn, cmd.name, cmd.phone, cmd.wechat_openid, groups,
                                                  cmd.enabled)
    after = await repository.contact(uow.conn, contact_id)
    await uow.audit(AuditEntry("notification.contact.save", f"notification-contact:{contact_id}", None,
                               _contact_audit(before), _contact_audit(after)))
    return contact_id


EVENT_HANDLERS: dict[str, list[Handler]] = {
    event_type: [on_alarm_transition] for event_type in ALARM_EVENTS if event_type != ALARM_ESCALATED}
COMMAND_HANDLERS: dict[type, Handler] = {SaveRoute: save_route, DeleteRoute: delete_route, SaveContact: save_contact}

__all__ = ["InvalidRoute"]
