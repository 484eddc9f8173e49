"""Writes telemetry: metric definitions, points by COPY (idempotent), latest values, status, dead letters.

All writes of one batch go in the caller's transaction; after commit a NOTIFY on
``telemetry_latest`` tells listeners (the control API's WebSocket) which devices changed.
``is_outage`` is the one place that tells a database that is away (retry the same write later) from a
database that refuses this data (the write will never succeed: find the message and dead-letter it).
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import psycopg

from telemetry.records import MetricDef, PointRow, SourceStatus

NOTIFY_CHANNEL = "telemetry_latest"

# SQLSTATE classes that say "not now" rather than "not this": connection exception, insufficient
# resources (disk full, out of memory), operator intervention (shutdown, cancel), system error,
# transaction rollback (serialisation failure, deadlock)
_OUTAGE_CLASSES = ("08", "53", "57", "58", "40")


def is_outage(exc: psycopg.Error) -> bool:
    """True when the database is away or overloaded, so the same write should be retried as it is."""
    if isinstance(exc, psycopg.InterfaceError):
        return True
    if exc.sqlstate is None:
        # no answer from the server: a lost connection (an OperationalError), or a refusal raised on the
        # client before sending, such as a NUL in text (a DataError)
        return isinstance(exc, psycopg.OperationalError)
    return exc.sqlstate[:2] in _OUTAGE_CLASSES

_STAGING = """CREATE TEMP TABLE IF NOT EXISTS points_staging (
    metric_id integer, ts timestamptz, value double precision, value_text text,
    quality text, reason text, historical boolean) ON COMMIT DELETE ROWS"""
_STAGING_TYPES = ["integer", "timestamptz", "double precision", "text", "text", "text", "boolean"]

# a point already stored for (metric, source time) stays as it is: a redelivery never doubles a row. No
# DISTINCT ON (a sort of the whole batch): with DO NOTHING a repeat inside the batch is skipped like any other
_INSERT_NEW = """INSERT INTO telemetry.points (metric_id, ts, value, value_text, quality, reason, historical)
    SELECT metric_id, ts, value, value_text, quality, reason, historical FROM points_staging
    ON CONFLICT (metric_id, ts) DO NOTHING"""

_UPDATE_LATEST = """INSERT INTO telemetry.latest AS l (metric_id, ts, value, value_text, quality, reason, received_at)
    SELECT DISTINCT ON (metric_id) metric_id, ts, value, value_text, quality, reason, now()
    FROM points_staging WHERE NOT historical ORDER BY metric_id, ts DESC
    ON CONFLICT (metric_id) DO UPDATE SET ts = EXCLUDED.ts, value = EXCLUDED.value,
        value_text = EXCLUDED.value_text, quality = EXCLUDED.quality, reason = EXCLUDED.reason,
        received_at = EXCLUDED.received_at
    WHERE l.ts <= EXCLUDED.ts"""


class TelemetryWriter:
    """One per ingest connection; caches metric ids."""

    def __init__(self) -> None:
        self._ids: dict[tuple[str, str, str], int] = {}

    def forget(self) -> None:
        """After a rolled-back transaction: ids learnt inside it may not exist."""
        self._ids.clear()

    async def metric_ids(self, conn: psycopg.AsyncConnection, defs: Iterable[MetricDef]) -> None:
        for d in defs:
            cur = await conn.execute(
                """INSERT INTO telemetry.metrics (grp, station, device, name, datatype, unit, alias)
                   VALUES (%s, %s, %s, %s, %s, %s, %s)
                   ON CONFLICT (station, device, name)
                   DO UPDATE SET datatype = EXCLUDED.datatype, unit = EXCLUDED.unit, grp = EXCLUDED.grp,
                                 alias = EXCLUDED.alias
                   RETURNING metric_id""",
                (d.group, d.station, d.device, d.name, d.datatype, d.unit, d.alias))
            row = await cur.fetchone()
            if row is not None:
                self._ids[(d.station, d.device, d.name)] = row[0]

    async def _known_id(self, conn: psycopg.AsyncConnection, key: tuple[str, str, str]) -> int | None:
        if key not in self._ids:
            cur = await conn.execute(
                "SELECT metric_id FROM telemetry.metrics WHERE station = %s AND device = %s AND name = %s", key)
            row = await cur.fetchone()
            if row is None:
                return None
            self._ids[key] = row[0]
        return self._ids[key]

    async def write_points(self, conn: psycopg.AsyncConnection, rows: list[PointRow]) -> int:
        """Binary COPY into staging, then insert what is new; returns the number of rows that were new."""
        if not rows:
            return 0
        ids = self._ids
        missing = {key for r in rows if (key := (r.station, r.device, r.name)) not in ids}
        for key in missing:                  # only a metric not seen before costs a query
            await self._known_id(conn, key)
        await conn.execute(_STAGING)
        async with conn.cursor() as cur:
            async with cur.copy("COPY points_staging FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(_STAGING_TYPES)
                for r in rows:
                    metric_id = ids.get((r.station, r.device, r.name))
                    if metric_id is not None:
                        await copy.write_row((metric_id, r.ts, r.value, r.value_text, r.quality, r.reason,
                                              r.historical))
            await cur.execute(_INSERT_NEW)
            inserted = cur.rowcount
            await cur.execute(_UPDATE_LATEST)
        return max(inserted, 0)

    @staticmethod
    async def alias_registry(conn: psycopg.AsyncConnection,
                             station: str) -> list[tuple[str, int, str, str, str | None]]:
        """(device, alias, name, datatype, unit) of a node's metrics as its latest births named them."""
        cur = await conn.execute("SELECT device, alias, name, datatype, unit FROM telemetry.metrics "
                                 "WHERE station = %s AND alias IS NOT NULL", (station,))
        return list(await cur.fetchall())

    @staticmethod
    async def set_status(conn: psycopg.AsyncConnection, statuses: Iterable[SourceStatus]) -> None:
        for s in statuses:
            await conn.execute(
                """INSERT INTO telemetry.sources (station, device, grp, online, stale, reason, updated_at)
                   VALUES (%s, %s, %s, %s, %s, %s, now())
                   ON CONFLICT (station, device) DO UPDATE SET online = EXCLUDED.online, stale = EXCLUDED.stale,
                       reason = EXCLUDED.reason, grp = EXCLUDED.grp, updated_at = now()""",
                (s.station, s.device, s.group, s.online, s.stale, s.reason))
            if s.device == "" and (not s.online or s.stale):
                # the node's death or gap makes every device of the station stale too
                await conn.execute(
                    "UPDATE telemetry.sources SET stale = true, reason = %s, updated_at = now() "
                    "WHERE station = %s AND device <> ''", (s.reason, s.station))

    @staticmethod
    async def dead_letter(conn: psycopg.AsyncConnection, topic: str, payload: bytes, error: str) -> None:
        await conn.execute("INSERT INTO telemetry.dead_letters (topic, payload, error) VALUES (%s, %s, %s)",
                           (topic, payload, error))

    @staticmethod
    async def notify(conn: psycopg.AsyncConnection, devices: Iterable[tuple[str, str]]) -> None:
        for station, device in sorted(set(devices)):
            await conn.execute("SELECT pg_notify(%s, %s)",
                               (NOTIFY_CHANNEL, json.dumps({"station": station, "device": device})))
