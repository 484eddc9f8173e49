"""The seam for other planes to raise and clear an alarm condition over SQL, inside their own transaction.

Wet stock (``business_services/inventory``) does not import the engine: it calls ``raise_condition`` with its
connection when a reconciliation is over tolerance (``active=True``) and again when it is back within
(``active=False``). The row is all it writes; the engine evaluates it like telemetry, against a rule of kind
``condition`` whose ``code`` is ``rule`` (in config/alarm-rules.yaml or the back office: priority, area, delays,
message), so the life cycle, journal, events and notifications are the same as for any alarm. Writing the same
state again changes nothing; a rolled-back transaction leaves no condition. docs/how-to/add-an-alarm-rule.md.

The same statement in plain SQL, for a plane that prefers it::

    INSERT INTO alarms.external_conditions (station, rule, source, active, value, limit_value, message)
    VALUES ($1, $2, $3, $4, $5, $6, $7)
    ON CONFLICT (station, rule, source) DO UPDATE SET active = EXCLUDED.active, value = EXCLUDED.value,
        limit_value = EXCLUDED.limit_value, message = EXCLUDED.message, updated_at = now();
    SELECT pg_notify('telemetry_latest', json_build_object('station', $1, 'device', '')::text);
"""

from __future__ import annotations

import json

import psycopg

from telemetry.contracts.identifiers import check_code

_UPSERT = """INSERT INTO alarms.external_conditions (station, rule, source, active, value, limit_value, message)
    VALUES (%s, %s, %s, %s, %s, %s, %s)
    ON CONFLICT (station, rule, source) DO UPDATE SET active = EXCLUDED.active, value = EXCLUDED.value,
        limit_value = EXCLUDED.limit_value, message = EXCLUDED.message, updated_at = now()
    WHERE (alarms.external_conditions.active, alarms.external_conditions.value)
          IS DISTINCT FROM (EXCLUDED.active, EXCLUDED.value)"""


async def raise_condition(conn: psycopg.AsyncConnection, station: str, rule: str, source: str, active: bool,
                          value: float | None = None, limit: float | None = None, message: str = "") -> None:
    """Say that the condition ``rule`` of ``source`` (e.g. ``tank-1``) at ``station`` is present (``active``) or
    not; the engine is woken at commit."""
    check_code(station, "station code")
    if not rule or not source or len(rule) > 128 or len(source) > 256:
        raise ValueError("rule (1-128 characters) and source (1-256) are required")
    await conn.execute(_UPSERT, (station, rule, source, active, value, limit, message[:500]))
    await conn.execute("SELECT pg_notify('telemetry_latest', %s)", (json.dumps({"station": station, "device": ""}),))
