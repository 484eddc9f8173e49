"""A person's action on an alarm (acknowledge, shelve, unshelve, out of service, in service), in one transaction:
the condition row locked, the life cycle applied (``model.act``), the transition recorded with its journal and
outbox rows. The caller (the API) adds its audit record in the same transaction.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg.types.json import Jsonb

from telemetry.alarms import repository
from telemetry.alarms.model import Action, ActionRefused, act
from telemetry.contracts.commands import command_topic
from telemetry.contracts.events.alarms import ACKNOWLEDGE_ALARM, AcknowledgeAlarm, AlarmTransition


class AlarmNotFound(LookupError):
    pass


class OwnedByStation(ActionRefused):
    """Head office holds a copy of this alarm: the station's engine owns it."""


async def owner(conn: psycopg.AsyncConnection, alarm_id: uuid.UUID) -> tuple[str, str, bool] | None:
    """(station, owner, closed) of an alarm, or None when there is no such alarm."""
    cur = await conn.execute("SELECT station, owner, closed_at IS NOT NULL FROM alarms.alarms WHERE alarm_id = %s",
                             (alarm_id,))
    row = await cur.fetchone()
    return None if row is None else (str(row[0]), str(row[1]), bool(row[2]))


async def perform(conn: psycopg.AsyncConnection, group: str, alarm_id: uuid.UUID, action: Action, by: str,
                  comment: str = "", shelve_for: timedelta | None = None,
                  now: datetime | None = None) -> AlarmTransition:
    """Apply ``action`` inside the caller's transaction; ``AlarmNotFound``, or ``ActionRefused`` (with the text
    to show) when the alarm is closed, owned by a station, or in a state the action does not fit."""
    found = await owner(conn, alarm_id)
    if found is None:
        raise AlarmNotFound(str(alarm_id))
    station, held_by, closed = found
    if held_by == "station":
        raise OwnedByStation(f"报警由站点 {station} 的站级服务器负责，请在站点操作 "
                             "(the station's server owns this alarm; act on it at the station)")
    where = await repository.condition_of_alarm(conn, alarm_id)
    if where is None or closed:
        raise ActionRefused("报警已恢复正常并关闭，无需操作 (the alarm has returned to normal and is closed)")
    _, rule_id, source = where
    cond = await repository.lock(conn, station, rule_id, source)
    if cond.alarm_id != alarm_id:
        raise ActionRefused("报警已恢复正常并关闭，无需操作 (the alarm has returned to normal and is closed)")
    rule = await repository.rule(conn, rule_id)
    if rule is None:
        raise AlarmNotFound(str(alarm_id))
    after, step = act(cond, action, now or datetime.now(UTC), by, comment, shelve_for)
    await repository.save(conn, station, rule_id, source, after)
    unit_row = await (await conn.execute("SELECT unit FROM alarms.alarms WHERE alarm_id = %s", (alarm_id,))).fetchone()
    payload = repository.payload(rule, station, source, step, str(unit_row[0]) if unit_row else "")
    group_row = await (await conn.execute("SELECT min(grp) FROM telemetry.metrics WHERE station = %s",
                                          (station,))).fetchone()
    await repository.record(conn, (group_row[0] if group_row and group_row[0] else group), payload,
                            rule_id=rule_id)
    return payload


async def request_acknowledgement(conn: psycopg.AsyncConnection, group: str, alarm_id: uuid.UUID, by: str,
                                  comment: str = "", now: datetime | None = None) -> AcknowledgeAlarm:
    """Head office acknowledging an alarm a station server owns: ``command.acknowledge_alarm`` into the outbox
    (sent down at commit); the station's ``alarm.acknowledged`` comes back up. Refused when the copy says the
    alarm is closed or already acknowledged."""
    cur = await conn.execute("SELECT station, seq, state, closed_at IS NOT NULL FROM alarms.alarms "
                             "WHERE alarm_id = %s AND owner = 'station' FOR UPDATE", (alarm_id,))
    row = await cur.fetchone()
    if row is None:
        raise AlarmNotFound(str(alarm_id))
    station, seq, state, closed = str(row[0]), int(row[1]), str(row[2]), bool(row[3])
    if closed or state not in ("unacknowledged", "returned_unacknowledged"):
        raise ActionRefused(f"报警状态为 {state}，不能确认 (only an unacknowledged alarm can be acknowledged)")
    command = AcknowledgeAlarm(alarm_id=alarm_id, seq=seq, station=station, by=by, comment=comment,
                               at=now or datetime.now(UTC))
    event = command.envelope(source="forecourt/alarms/head-office", event_id=command.command_id())
    await conn.execute("INSERT INTO alarms.outbox (event_id, topic, payload) VALUES (%s, %s, %s) "
                       "ON CONFLICT (event_id) DO NOTHING",
                       (event.id, command_topic(group, station, ACKNOWLEDGE_ALARM),
                        Jsonb(event.model_dump(mode="json", exclude_none=True))))
    await conn.execute("SELECT pg_notify(%s, '')", (repository.OUTBOX_CHANNEL,))
    return command
