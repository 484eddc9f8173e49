"""The alarm engine's I/O loop: evaluate what ingest committed against the rules, write each transition once.

Woken by ingest's ``NOTIFY telemetry_latest`` (the station that changed) and by a tick (``tick_s``, 1 s: on/off
delays, staleness, shelving expiry), it reads each station's latest values (``telemetry.latest`` with
``telemetry.metrics`` and ``telemetry.sources``), evaluates every rule in the role's scope
(``model.scope_for``) against every source it matches, and writes a condition whose evaluation changed
anything in its own transaction: the row locked (``FOR UPDATE``), evaluated again from the locked state, saved,
and each transition recorded with its journal and outbox rows (``repository.record``). So several engines
(``--partition i/N`` splits the stations between them for throughput; the lock keeps them correct when they
overlap) raise each alarm once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from telemetry.alarms import metrics, repository
from telemetry.alarms.model import SUPPRESSIONS, Condition, Kind, Rule, Sample, Scope, evaluate, in_scope, scope_for
from telemetry.alarms.repository import Latest
from telemetry.alarms.rules import load_file

log = logging.getLogger(__name__)

TELEMETRY_CHANNEL = "telemetry_latest"
RULES_REFRESH_S = 5.0
_NO_ID = uuid.UUID(int=0)


@dataclass(frozen=True, slots=True)
class Where:
    """Which stations this engine evaluates (``model.scope_for``) and which share of them (``i/N``)."""

    role: str = "head-office"
    own_station: str | None = None
    station_servers: frozenset[str] = frozenset()
    partition: tuple[int, int] = (1, 1)

    def scope(self, station: str) -> Scope:
        index, count = self.partition
        if count > 1 and zlib.crc32(station.encode()) % count != index - 1:
            return Scope.NONE
        return scope_for(self.role, station, self.own_station, self.station_servers)


@dataclass(frozen=True, slots=True)
class Source:
    """One thing a rule watches at a station: its name and its newest sample."""

    name: str
    unit: str
    sample: Sample


def _sources(rule: Rule, station: str, metrics: list[Latest], devices: dict[str, tuple[bool, bool, datetime]],
             external: list[tuple[str, str, bool, float | None, datetime]]) -> Iterable[Source]:
    if rule.kind is Kind.CONDITION:
        for code, source, active, value, at in external:
            if code == rule.code:
                yield Source(source, "", Sample(value=1.0 if active else 0.0, ts=at, received_at=at, reported=value))
        return
    if rule.kind is Kind.COMM_LOSS:
        newest: dict[str, datetime] = {}
        reachable: set[str] = set()      # devices with a value not lost to comm-loss
        for m in metrics:
            if m.received_at is not None:
                for key in (m.device, ""):
                    newest[key] = max(newest.get(key, m.received_at), m.received_at)
            if not (m.quality == "bad" and m.reason == "comm-loss"):
                reachable.add(m.device)
        names = {""} | {m.device for m in metrics} | set(devices)
        for device in sorted(names):
            if rule.applies_to(station, device, ""):
                online, stale, _ = devices.get(device, (True, False, None))
                if device and device in newest and device not in reachable:
                    online = False           # the edge node reports every point of it lost (comm-loss)
                yield Source(device or station, "", Sample(received_at=newest.get(device), online=online,
                                                           stale=stale))
        return
    flags = {(m.device, m.name): m for m in metrics}
    for m in metrics:
        if not rule.applies_to(station, m.device, m.name):
            continue
        suppressed = False
        prefix = m.name.rpartition("/")[0]
        for what in rule.during:
            flag = flags.get((m.device, f"{prefix}/{SUPPRESSIONS[what]}" if prefix else SUPPRESSIONS[what]))
            suppressed |= flag is not None and bool(flag.value) and flag.quality != "bad"
        yield Source(f"{m.device}/{m.name}", m.unit,
                     Sample(value=m.value, text=m.text, quality=m.quality, ts=m.ts, received_at=m.received_at,
                            online=m.online, stale=m.stale, suppressed=suppressed))


def _station_of(payload: str) -> str:
    with contextlib.suppress(ValueError, KeyError, TypeError):
        return str(json.loads(payload)["station"])
    return ""


def _same(a: Condition, b: Condition) -> bool:
    return replace(a, last_ts=None) == replace(b, last_ts=None)


class AlarmEngine:
    def __init__(self, database_url: str, *, group: str, where: Where | None = None,
                 rules_file: Path | None = None, tick_s: float = 1.0) -> None:
        self.database_url = database_url
        self.group = group
        self.where = where or Where()
        self.rules_file = rules_file
        self.tick_s = tick_s
        self.ready = asyncio.Event()
        self.evaluations = 0        # (rule, source) pairs evaluated: the throughput figure's numerator
        self.transitions = 0
        self._rules: list[Rule] = []
        self._rules_at = 0.0

    def health(self) -> dict[str, object]:
        return {"ok": self.ready.is_set(), "evaluations": self.evaluations, "transitions": self.transitions}

    async def load_rules(self, conn: psycopg.AsyncConnection) -> None:
        """The file's rules into the table (once, at start), then the table's enabled rules."""
        if self.rules_file is not None:
            specs = load_file(self.rules_file)
            async with conn.transaction():
                await repository.sync_config_rules(conn, specs)
        self._rules = await repository.rules(conn)
        self._rules_at = time.monotonic()

    async def run(self) -> None:
        """Evaluate until cancelled, through database outages."""
        while True:
            try:
                await self._session()
            except psycopg.OperationalError as exc:
                self.ready.clear()
                log.warning("alarm engine paused, database unavailable: %s", exc)
                await asyncio.sleep(1.0)

    async def _session(self) -> None:
        async with await psycopg.AsyncConnection.connect(self.database_url, autocommit=True) as listen, \
                await psycopg.AsyncConnection.connect(self.database_url, autocommit=True) as conn:
            await listen.execute(f"LISTEN {TELEMETRY_CHANNEL}")
            await self.load_rules(conn)
            self.rules_file = None          # the file is read once per process
            await self.evaluate(conn)
            self.ready.set()
            next_tick = time.monotonic() + self.tick_s
            while True:
                changed: set[str] = set()
                wait = max(0.0, next_tick - time.monotonic())
                async for note in listen.notifies(timeout=wait, stop_after=1):
                    changed.add(_station_of(note.payload))
                if changed:     # what else is already waiting joins this pass (ingest notifies per device)
                    async for note in listen.notifies(timeout=0.02, stop_after=1000):
                        changed.add(_station_of(note.payload))
                changed.discard("")
                if time.monotonic() >= next_tick:
                    next_tick = time.monotonic() + self.tick_s
                    changed = set()     # every station now
                    await self.evaluate(conn)
                elif changed:
                    await self.evaluate(conn, changed)

    async def evaluate(self, conn: psycopg.AsyncConnection, only: set[str] | None = None,
                       now: datetime | None = None) -> int:
        """One pass over the stations in scope (``only``: just these); returns the transitions written."""
        if time.monotonic() - self._rules_at > RULES_REFRESH_S:
            self._rules = await repository.rules(conn)
            self._rules_at = time.monotonic()
        made = 0
        for station, group in await repository.stations(conn):
            if only is not None and station not in only:
                continue
            scope = self.where.scope(station)
            if scope is Scope.NONE:
                continue
            rules = [r for r in self._rules if r.enabled and in_scope(r, scope)]
            made += await self.evaluate_station(conn, station, group or self.group, rules, now)
        self.transitions += made
        return made

    async def evaluate_station(self, conn: psycopg.AsyncConnection, station: str, group: str, rules: list[Rule],
                               now: datetime | None = None) -> int:
        latest, devices = await repository.snapshot(conn, station)
        counted = 0
        external = await repository.external(conn, station)
        known = await repository.conditions(conn, station)
        at = now or datetime.now(UTC)
        made = 0
        todo: dict[tuple[int, str], tuple[Rule, Source]] = {}
        for rule in rules:
            for source in _sources(rule, station, latest, devices, external):
                self.evaluations += 1
                counted += 1
                before = known.get((rule.id, source.name), Condition())
                after, steps = evaluate(rule, before, source.sample, at, _NO_ID)   # only a look: ids when written
                if steps or not _same(before, after) or (rule.id, source.name) not in known:
                    todo[(rule.id, source.name)] = (rule, source)
        metrics.EVALUATIONS.inc(counted)
        for rule, source in todo.values():
            made += await self._write(conn, station, group, rule, source, at)
        return made

    async def _write(self, conn: psycopg.AsyncConnection, station: str, group: str, rule: Rule, source: Source,
                     at: datetime) -> int:
        """Evaluate again under the row's lock and write what changed (the other worker may have been first)."""
        async with conn.transaction():
            locked = await repository.lock(conn, station, rule.id, source.name)
            after, steps = evaluate(rule, locked, source.sample, at, uuid.uuid4())
            await repository.save(conn, station, rule.id, source.name, after)
            for step in steps:
                metrics.TRANSITIONS.labels(step.event_type).inc()
                await repository.record(conn, group, repository.payload(rule, station, source.name, step,
                                                                        source.unit), rule_id=rule.id)
        return len(steps)
