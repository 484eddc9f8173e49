"""SQL of the alarm engine: rules, the evaluation rows, occurrences, the journal and the outbox (schema ``alarms``).

Every transition is written by ``record`` in the caller's transaction: the occurrence row, the journal row and
the outbox row together, then ``NOTIFY alarm_transitions`` (delivered at commit) for the console's stream and
the outbox publisher. Rows are keyed so that a repeat changes nothing: the journal on (alarm_id, seq), the
outbox on the event id (from alarm_id and seq).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from telemetry.alarms.model import Condition, Kind, Rule, Transition
from telemetry.alarms.rules import RuleSpec
from telemetry.contracts.events.alarms import (
    ALARM_ACKNOWLEDGED,
    ALARM_EVENTS,
    ALARM_RETURNED,
    AlarmState,
    AlarmTransition,
    Priority,
)
from telemetry.contracts.topics import event_topic

CHANNEL = "alarm_transitions"          # NOTIFY payload: {"station", "alarm_id", "seq", "type"}
OUTBOX_CHANNEL = "alarm_outbox"

_RULE_COLUMNS = ("code, station, device, metric, kind, limit_value, deadband, on_delay_s, off_delay_s, window_s, "
                 "match_values, mask, priority, area, message, unit, during, enabled")


def _rule_values(spec: RuleSpec) -> tuple[Any, ...]:
    return (spec.code, spec.station, spec.device, spec.metric, spec.kind.value, spec.limit, spec.deadband,
            spec.on_delay_s, spec.off_delay_s, spec.window_s, spec.match_values, spec.mask, spec.priority.value,
            spec.area, spec.message, spec.unit, spec.during, spec.enabled)


async def sync_config_rules(conn: psycopg.AsyncConnection, specs: list[RuleSpec]) -> None:
    """The file's rules into the table; a rule the back office edited (origin 'back-office') is left as it is."""
    for spec in specs:
        await conn.execute(
            f"INSERT INTO alarms.rules ({_RULE_COLUMNS}, origin) VALUES "  # noqa: S608 (our own text)
            "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'config') "
            "ON CONFLICT (code, station) DO UPDATE SET device = EXCLUDED.device, metric = EXCLUDED.metric, "
            "kind = EXCLUDED.kind, limit_value = EXCLUDED.limit_value, deadband = EXCLUDED.deadband, "
            "on_delay_s = EXCLUDED.on_delay_s, off_delay_s = EXCLUDED.off_delay_s, window_s = EXCLUDED.window_s, "
            "match_values = EXCLUDED.match_values, mask = EXCLUDED.mask, priority = EXCLUDED.priority, "
            "area = EXCLUDED.area, message = EXCLUDED.message, unit = EXCLUDED.unit, during = EXCLUDED.during, "
            "enabled = EXCLUDED.enabled, updated_at = now() "
            "WHERE alarms.rules.origin = 'config'", _rule_values(spec))


async def create_rule(conn: psycopg.AsyncConnection, spec: RuleSpec) -> int:
    cur = await conn.execute(
        f"INSERT INTO alarms.rules ({_RULE_COLUMNS}, origin) VALUES "  # noqa: S608 (our own text)
        "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'back-office') "
        "ON CONFLICT (code, station) DO NOTHING RETURNING id", _rule_values(spec))
    row = await cur.fetchone()
    return 0 if row is None else int(row[0])


async def update_rule(conn: psycopg.AsyncConnection, rule_id: int, spec: RuleSpec) -> bool:
    cur = await conn.execute(
        "UPDATE alarms.rules SET code = %s, station = %s, device = %s, metric = %s, kind = %s, limit_value = %s, "
        "deadband = %s, on_delay_s = %s, off_delay_s = %s, window_s = %s, match_values = %s, mask = %s, "
        "priority = %s, area = %s, message = %s, unit = %s, during = %s, enabled = %s, origin = 'back-office', "
        "updated_at = now() WHERE id = %s", (*_rule_values(spec), rule_id))
    return cur.rowcount == 1


def rule_of(row: dict[str, Any]) -> Rule:
    return Rule(id=row["id"], code=row["code"], kind=Kind(row["kind"]), priority=Priority(row["priority"]),
                station=row["station"], device=row["device"], metric=row["metric"], limit=row["limit_value"],
                deadband=row["deadband"], on_delay_s=row["on_delay_s"], off_delay_s=row["off_delay_s"],
                window_s=row["window_s"], match_values=tuple(row["match_values"]), mask=row["mask"],
                area=row["area"], message=row["message"], unit=row["unit"], during=tuple(row["during"]),
                enabled=row["enabled"])


async def rules(conn: psycopg.AsyncConnection, *, enabled_only: bool = True) -> list[Rule]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("SELECT * FROM alarms.rules WHERE enabled OR NOT %s ORDER BY id", (enabled_only,))
        return [rule_of(r) for r in await cur.fetchall()]


async def rule(conn: psycopg.AsyncConnection, rule_id: int) -> Rule | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("SELECT * FROM alarms.rules WHERE id = %s", (rule_id,))
        row = await cur.fetchone()
    return None if row is None else rule_of(row)


async def stations(conn: psycopg.AsyncConnection) -> list[tuple[str, str]]:
    """(station, group) of every station ingest has heard of."""
    cur = await conn.execute("SELECT station, min(grp) FROM (SELECT station, grp FROM telemetry.metrics "
                             "UNION SELECT station, grp FROM telemetry.sources "
                             "UNION SELECT station, '' FROM alarms.external_conditions) s "
                             "GROUP BY station ORDER BY station")
    return [(str(s), str(g)) for s, g in await cur.fetchall()]


@dataclass(frozen=True, slots=True)
class Latest:
    """One metric of a station with its latest value and its device's status."""

    device: str
    name: str
    unit: str
    value: float | None
    text: str | None
    quality: str
    reason: str | None
    ts: datetime | None
    received_at: datetime | None
    online: bool
    stale: bool


async def snapshot(conn: psycopg.AsyncConnection, station: str) -> tuple[list[Latest], dict[str, tuple[bool, bool,
                                                                                                     datetime]]]:
    """The station's metrics with their latest values, and each source's (online, stale, updated_at)."""
    cur = await conn.execute(
        "SELECT m.device, m.name, coalesce(m.unit, ''), l.value, l.value_text, coalesce(l.quality, 'good'), "
        "l.reason, l.ts, l.received_at, coalesce(s.online, true), coalesce(s.stale, false) "
        "FROM telemetry.metrics m LEFT JOIN telemetry.latest l USING (metric_id) "
        "LEFT JOIN telemetry.sources s ON s.station = m.station AND s.device = m.device "
        "WHERE m.station = %s", (station,))
    metrics = [Latest(*row) for row in await cur.fetchall()]
    cur = await conn.execute("SELECT device, online, stale, updated_at FROM telemetry.sources WHERE station = %s",
                             (station,))
    sources = {str(d): (bool(o), bool(s), u) for d, o, s, u in await cur.fetchall()}
    return metrics, sources


async def external(conn: psycopg.AsyncConnection, station: str) -> list[tuple[str, str, bool, float | None,
                                                                              datetime]]:
    cur = await conn.execute("SELECT rule, source, active, value, updated_at FROM alarms.external_conditions "
                             "WHERE station = %s", (station,))
    return [(str(r), str(s), bool(a), v, u) for r, s, a, v, u in await cur.fetchall()]


_COND_COLUMNS = ("state, active, violating, pending_since, clear_since, ref_value, ref_ts, last_ts, alarm_id, seq, "
                 "shelved_until")


def _condition(row: tuple[Any, ...]) -> Condition:
    return Condition(AlarmState(row[0]), *row[1:])


async def conditions(conn: psycopg.AsyncConnection, station: str) -> dict[tuple[int, str], Condition]:
    cur = await conn.execute(f"SELECT rule_id, source, {_COND_COLUMNS} FROM alarms.conditions "  # noqa: S608
                             "WHERE station = %s", (station,))
    return {(int(r[0]), str(r[1])): _condition(r[2:]) for r in await cur.fetchall()}


async def lock(conn: psycopg.AsyncConnection, station: str, rule_id: int, source: str) -> Condition:
    """The row of (station, rule, source), created if new, locked until the transaction ends."""
    await conn.execute("INSERT INTO alarms.conditions (station, rule_id, source) VALUES (%s, %s, %s) "
                       "ON CONFLICT DO NOTHING", (station, rule_id, source))
    cur = await conn.execute(f"SELECT {_COND_COLUMNS} FROM alarms.conditions "  # noqa: S608 (our own text)
                             "WHERE station = %s AND rule_id = %s AND source = %s FOR UPDATE",
                             (station, rule_id, source))
    row = await cur.fetchone()
    return Condition() if row is None else _condition(row)


async def save(conn: psycopg.AsyncConnection, station: str, rule_id: int, source: str, c: Condition) -> None:
    await conn.execute(
        "UPDATE alarms.conditions SET state = %s, active = %s, violating = %s, pending_since = %s, clear_since = %s, "
        "ref_value = %s, ref_ts = %s, last_ts = %s, alarm_id = %s, seq = %s, shelved_until = %s, updated_at = now() "
        "WHERE station = %s AND rule_id = %s AND source = %s",
        (c.state.value, c.active, c.violating, c.pending_since, c.clear_since, c.ref_value, c.ref_ts, c.last_ts,
         c.alarm_id, c.seq, c.shelved_until, station, rule_id, source))


async def condition_of_alarm(conn: psycopg.AsyncConnection, alarm_id: uuid.UUID) -> tuple[str, int, str] | None:
    """(station, rule_id, source) of the condition whose open occurrence is ``alarm_id``."""
    cur = await conn.execute("SELECT station, rule_id, source FROM alarms.conditions WHERE alarm_id = %s",
                             (alarm_id,))
    row = await cur.fetchone()
    return None if row is None else (str(row[0]), int(row[1]), str(row[2]))


def payload(rule: Rule, station: str, source: str, t: Transition, unit: str) -> AlarmTransition:
    model = ALARM_EVENTS[t.event_type]
    return model(alarm_id=t.alarm_id, seq=t.seq, station=station, rule=rule.code, source=source, area=rule.area,
                 priority=rule.priority, kind=rule.kind.value, state_from=t.state_from, state_to=t.state_to,
                 active=t.active, value=t.value, limit=rule.limit, unit=rule.unit or unit, message=rule.message,
                 by=t.by, comment=t.comment, shelved_until=t.shelved_until, at=t.at)


async def record(conn: psycopg.AsyncConnection, group: str, p: AlarmTransition, *, rule_id: int | None = None,
                 owner: str = "here") -> bool:
    """One transition: the occurrence, the journal and (for our own alarms) the outbox, in the caller's
    transaction. False when it was already recorded (a repeat: nothing changes)."""
    cur = await conn.execute(
        "INSERT INTO alarms.journal (alarm_id, seq, event_type, station, rule, source, priority, state_from, "
        "state_to, active, at, by_user, comment, value) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
        "ON CONFLICT (alarm_id, seq) DO NOTHING",
        (p.alarm_id, p.seq, p.TYPE, p.station, p.rule, p.source, p.priority.value, p.state_from.value, p.state_to.value,
         p.active, p.at, p.by, p.comment, p.value))
    if cur.rowcount != 1:
        return False
    closed = p.at if p.state_to is AlarmState.NORMAL else None
    acked = p.TYPE == ALARM_ACKNOWLEDGED
    await conn.execute(
        "INSERT INTO alarms.alarms AS a (alarm_id, station, rule, rule_id, source, area, priority, kind, state, "
        "active, value, limit_value, unit, message, raised_at, acknowledged_at, acknowledged_by, shelved_until, "
        "returned_at, closed_at, seq, owner) VALUES (%(id)s, %(station)s, %(rule)s, %(rule_id)s, %(source)s, "
        "%(area)s, %(priority)s, %(kind)s, %(state)s, %(active)s, %(value)s, %(limit)s, %(unit)s, %(message)s, "
        "%(at)s, %(acked_at)s, %(acked_by)s, %(shelved)s, %(returned)s, %(closed)s, %(seq)s, %(owner)s) "
        "ON CONFLICT (alarm_id) DO UPDATE SET state = EXCLUDED.state, active = EXCLUDED.active, "
        "value = coalesce(EXCLUDED.value, a.value), "
        "acknowledged_at = coalesce(EXCLUDED.acknowledged_at, a.acknowledged_at), "
        "acknowledged_by = coalesce(EXCLUDED.acknowledged_by, a.acknowledged_by), "
        "shelved_until = EXCLUDED.shelved_until, returned_at = coalesce(EXCLUDED.returned_at, a.returned_at), "
        "closed_at = EXCLUDED.closed_at, seq = EXCLUDED.seq WHERE a.seq < EXCLUDED.seq",
        {"id": p.alarm_id, "station": p.station, "rule": p.rule, "rule_id": rule_id, "source": p.source,
         "area": p.area, "priority": p.priority.value, "kind": p.kind, "state": p.state_to.value, "active": p.active,
         "value": p.value, "limit": p.limit, "unit": p.unit, "message": p.message, "at": p.at,
         "acked_at": p.at if acked else None, "acked_by": p.by if acked else None, "shelved": p.shelved_until,
         "returned": p.at if p.TYPE == ALARM_RETURNED else None, "closed": closed, "seq": p.seq,
         "owner": owner})
    if owner == "here":
        event = p.envelope(source=f"forecourt/alarms/{p.station}", subject=p.source, event_id=p.event_id(),
                           time=p.at)
        await conn.execute("INSERT INTO alarms.outbox (event_id, topic, payload) VALUES (%s, %s, %s) "
                           "ON CONFLICT (event_id) DO NOTHING",
                           (event.id, event_topic(group, p.station, p.TYPE),
                            Jsonb(event.model_dump(mode="json", exclude_none=True))))
        await conn.execute("SELECT pg_notify(%s, '')", (OUTBOX_CHANNEL,))
    await conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, json.dumps(
        {"station": p.station, "alarm_id": str(p.alarm_id), "seq": p.seq, "type": p.TYPE})))
    return True
