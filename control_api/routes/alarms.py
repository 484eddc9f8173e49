"""The alarm API (docs/alarms.md, the contract in docs/api.md "Alarms"): the list of alarms, one alarm with its
journal, the journal, the ISA-18.2 KPIs, the live stream, a person's actions, and the rules.

Reads need ``alarm:read``; acknowledge, shelve, unshelve, out of service and in service need ``alarm:ack`` (each
with an Idempotency-Key, audited); the rules ``alarm:configure``. A caller scoped to stations sees and acts on
its stations only. The engine itself is ``telemetry/alarms/``.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

import psycopg
from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, WebSocket, WebSocketDisconnect, status
from psycopg.rows import dict_row
from pydantic import BaseModel, ConfigDict, Field

from business_services.audit import repository as audit_log
from business_services.audit.model import AuditEntry
from business_services.pages import Sort, keyset_page
from control_api.database import DatabaseUnavailable
from control_api.deps import Db, WsHub
from control_api.idempotency import IdempotencyKey, once
from control_api.live import wait_or_disconnect
from control_api.pagination import Cursor, Limit, after, page
from control_api.security import Principal, require
from telemetry.alarms import actions, repository, views
from telemetry.alarms.model import Action, ActionRefused, RuleError
from telemetry.alarms.rules import RuleSpec, to_rule
from telemetry.contracts.events.alarms import AlarmState, Priority
from telemetry.contracts.identifiers import CODE_PATTERN

router = APIRouter(tags=["alarms"])
Reader = Annotated[Principal, Depends(require("alarm:read"))]
Acker = Annotated[Principal, Depends(require("alarm:ack"))]
Configurer = Annotated[Principal, Depends(require("alarm:configure"))]
AlarmId = Annotated[uuid.UUID, Path(description="报警编号 (the alarm occurrence's id, a UUID)")]
RuleId = Annotated[int, Path(ge=1, le=2**63 - 1, description="规则编号 (the rule's id)")]
StationQ = Annotated[str | None, Query(max_length=32, pattern=CODE_PATTERN, description="站点编码 (station code)")]
Text = Annotated[str, Field(max_length=500)]
Reason = Annotated[str, Field(min_length=1, max_length=500)]

SORT = Sort("sort_key", str, tiebreak="tiebreak", tiebreak_kind=str)
JOURNAL_SORT = Sort("at", datetime, descending=True)
MAX_KPI_SPAN = timedelta(days=92)
LISTEN_WAIT_S = 5.0     # how long a new stream waits for the process's LISTEN connection before "retry later"


class AlarmPublic(BaseModel):
    alarm_id: uuid.UUID
    station: str
    rule: str
    source: str
    area: str
    priority: Priority
    kind: str
    state: AlarmState
    active: bool
    value: float | None
    limit: float | None
    unit: str
    message: str
    raised_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    shelved_until: datetime | None
    returned_at: datetime | None
    seq: int
    owner: str                        # here: this server's engine; station: a copy of a station server's alarm


class JournalLine(BaseModel):
    seq: int
    event_type: str
    state_from: AlarmState
    state_to: AlarmState
    active: bool
    at: datetime
    by: str
    comment: str
    value: float | None


class AlarmDetail(AlarmPublic):
    journal: list[JournalLine]


class AlarmPage(BaseModel):
    items: list[AlarmPublic]
    next_cursor: str | None
    total: int


class JournalEntry(JournalLine):
    id: int
    alarm_id: uuid.UUID
    station: str
    rule: str
    priority: Priority


class JournalPage(BaseModel):
    items: list[JournalEntry]
    next_cursor: str | None
    total: int


class Acknowledge(BaseModel):
    model_config = ConfigDict(extra="forbid")
    comment: Text = ""


class Shelve(BaseModel):
    model_config = ConfigDict(extra="forbid")
    minutes: Annotated[int, Field(ge=1, le=1440, description="搁置分钟数 (1 to 1440)")]
    reason: Reason


class OutOfService(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Reason


class Release(BaseModel):
    model_config = ConfigDict(extra="forbid")
    comment: Text = ""


class RulePublic(RuleSpec):
    id: int
    origin: str
    updated_at: datetime


class RulePage(BaseModel):
    items: list[RulePublic]
    next_cursor: str | None
    total: int


def _check(who: Principal, station: str | None, websocket: WebSocket | None = None) -> None:
    if station:
        who.check_station(station, websocket)


def _public(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in ("tiebreak", "sort_key", "closed_at")}


@router.get("/api/v1/alarms", response_model=AlarmPage)
async def list_alarms(who: Reader, db: Db, station: StationQ = None,
                      area: Annotated[str | None, Query(max_length=64)] = None,
                      priority: Priority | None = None, state: Literal["active", "all"] = "active",
                      cursor: Cursor = "", limit: Limit = 50) -> dict[str, Any]:
    """报警列表：未关闭的在前，按优先级、时间 (open alarms first, by priority then newest)."""
    _check(who, station)
    if area is not None and "\x00" in area:
        raise HTTPException(422, "区域不能含 NUL (area must not contain NUL)")
    query, params = views.list_query(who.stations, station, area, priority.value if priority else None,
                                     state == "active")
    async with db.connection() as conn:
        rows, total, last = await keyset_page(conn, query, params, SORT, limit, after(cursor, SORT))
    return page([_public(r) for r in rows], total, SORT, last)


@router.get("/api/v1/alarms/journal", response_model=JournalPage)
async def journal(who: Reader, db: Db, station: StationQ = None,
                  start: Annotated[datetime | None, Query(alias="from")] = None,
                  end: Annotated[datetime | None, Query(alias="to")] = None,
                  cursor: Cursor = "", limit: Limit = 50) -> dict[str, Any]:
    """报警日志：每次状态变化，谁、何时 (every transition with who and when), newest first."""
    _check(who, station)
    query, params = views.journal_query(who.stations, station, _aware(start), _aware(end))
    async with db.connection() as conn:
        rows, total, last = await keyset_page(conn, query, params, JOURNAL_SORT, limit, after(cursor, JOURNAL_SORT))
    return page(rows, total, JOURNAL_SORT, last)


def _aware(at: datetime | None) -> datetime | None:
    if at is not None and at.tzinfo is None:
        raise HTTPException(422, "时间须带时区，例如 2026-12-04T08:00:00+08:00 (give times with a time zone)")
    return at


@router.get("/api/v1/alarms/kpis")
async def kpis(who: Reader, db: Db, station: StationQ = None,
               start: Annotated[datetime | None, Query(alias="from")] = None,
               end: Annotated[datetime | None, Query(alias="to")] = None) -> dict[str, Any]:
    """ISA-18.2 报警指标 (KPIs): per operator per 10 minutes, standing, chattering, stale, top 10, by priority.
    Default: the last 24 hours."""
    _check(who, station)
    end = _aware(end) or datetime.now(UTC)
    start = _aware(start) or end - timedelta(hours=24)
    if not timedelta(0) < end - start <= MAX_KPI_SPAN:
        raise HTTPException(422, "时间范围须在 92 天以内且 from 早于 to (from before to, at most 92 days apart)")
    async with db.connection() as conn:
        return await views.kpis(conn, who.stations, station, start, end)


@router.websocket("/api/v1/alarms/stream")
async def stream(websocket: WebSocket, db: Db, hub: WsHub, who: Annotated[Principal, Depends(require("alarm:read"))],
                 station: StationQ = None) -> None:
    """``{"type": "snapshot", "items": [...]}`` (the open alarms), then ``{"type": "transition", "event": …,
    "alarm": {...}}`` as each transition commits (``alarm_transitions`` through the process's one LISTEN
    connection, ``control_api/live.py``); a new snapshot when some were lost (a reconnect, a client too slow)."""
    _check(who, station, websocket)
    await websocket.accept()
    try:
        with hub.alarm_feed() as feed:
            async with asyncio.timeout(LISTEN_WAIT_S):
                await hub.listening.wait()
            await _snapshot(websocket, db, who, station)
            while True:
                await wait_or_disconnect(websocket, feed.ready.wait())
                notes = feed.take()
                if notes is None:
                    await _snapshot(websocket, db, who, station)
                    continue
                for body in notes:
                    if (station and body.get("station") != station) or not who.sees(str(body.get("station"))):
                        continue
                    async with db.connection() as conn:
                        row = await views.alarm(conn, uuid.UUID(str(body["alarm_id"])))
                    if row is not None:
                        row.pop("journal", None)
                        await websocket.send_json({"type": "transition", "event": body["type"], "alarm": _json(row)})
    except WebSocketDisconnect:
        pass
    except (DatabaseUnavailable, psycopg.OperationalError, TimeoutError):
        with contextlib.suppress(RuntimeError):
            await websocket.close(status.WS_1013_TRY_AGAIN_LATER,
                                  "数据库暂时不可用 (database unavailable; retry later)")


async def _snapshot(websocket: WebSocket, db: Db, who: Principal, station: str | None) -> None:
    async with db.connection() as conn:
        items = await views.active(conn, who.stations, station)
    await websocket.send_json({"type": "snapshot", "items": [_json(r) for r in items]})


def _json(row: dict[str, Any]) -> dict[str, Any]:
    return AlarmPublic.model_validate(_public(row)).model_dump(mode="json")


@router.get("/api/v1/alarms/{alarm_id}", response_model=AlarmDetail)
async def one_alarm(alarm_id: AlarmId, who: Reader, db: Db) -> dict[str, Any]:
    """一条报警及其日志 (the alarm with its journal)."""
    async with db.connection() as conn:
        row = await views.alarm(conn, alarm_id)
    if row is None or not who.sees(row["station"]):
        raise HTTPException(404, "没有这条报警 (no such alarm in your stations)")
    return _public(row)


async def _act(request: Request, db: Db, who: Principal, key: str, alarm_id: uuid.UUID, action: Action,
               comment: str, shelve_for: timedelta | None = None) -> Any:
    async def work() -> AlarmPublic:
        try:
            async with db.connection() as conn, conn.transaction():
                found = await actions.owner(conn, alarm_id)
                if found is None or not who.sees(found[0]):
                    raise HTTPException(404, "没有这条报警 (no such alarm in your stations)")
                before = await views.alarm(conn, alarm_id)
                if found[1] == "station" and action is Action.ACKNOWLEDGE:
                    return await _acknowledge_at_station(conn, request, who, alarm_id, comment)
                done = await actions.perform(conn, request.app.state.group, alarm_id, action, who.username,
                                             comment, shelve_for)
                await audit_log.append(conn, who.actor, AuditEntry(
                    f"alarm.{action.value}", f"alarm:{alarm_id}", found[0],
                    {"state": before["state"] if before else None},
                    {"state": done.state_to.value, "comment": comment,
                     "shelved_until": done.shelved_until.isoformat() if done.shelved_until else None}))
                row = await views.alarm(conn, alarm_id)
        except actions.AlarmNotFound:
            raise HTTPException(404, "没有这条报警 (no such alarm in your stations)") from None
        except ActionRefused as refused:
            raise HTTPException(409, str(refused)) from None
        if row is None:
            raise HTTPException(404, "没有这条报警 (no such alarm in your stations)")
        return AlarmPublic.model_validate(_public(row))
    return await once(request, db, who, key, work)


async def _acknowledge_at_station(conn: psycopg.AsyncConnection, request: Request, who: Principal,
                                  alarm_id: uuid.UUID, comment: str) -> AlarmPublic:
    """Head office and an alarm a station server owns: the acknowledgement goes down as a command; the alarm is
    answered as it is now (its acknowledged transition comes back up from the station)."""
    command = await actions.request_acknowledgement(conn, request.app.state.group, alarm_id, who.username, comment)
    await audit_log.append(conn, who.actor, AuditEntry(
        "alarm.acknowledge.request", f"alarm:{alarm_id}", command.station, None,
        {"seq": command.seq, "comment": comment, "command": command.command_id()}))
    row = await views.alarm(conn, alarm_id)
    if row is None:
        raise HTTPException(404, "没有这条报警 (no such alarm in your stations)")
    return AlarmPublic.model_validate(_public(row))


@router.post("/api/v1/alarms/{alarm_id}/acknowledge", response_model=AlarmPublic)
async def acknowledge(alarm_id: AlarmId, body: Acknowledge, request: Request, who: Acker, db: Db,
                      key: IdempotencyKey) -> Any:
    """确认报警 (acknowledge, with an optional comment)."""
    return await _act(request, db, who, key, alarm_id, Action.ACKNOWLEDGE, body.comment)


@router.post("/api/v1/alarms/{alarm_id}/shelve", response_model=AlarmPublic)
async def shelve(alarm_id: AlarmId, body: Shelve, request: Request, who: Acker, db: Db, key: IdempotencyKey) -> Any:
    """搁置报警 (shelve for 1 to 1440 minutes, with a reason); it returns by itself at the expiry."""
    return await _act(request, db, who, key, alarm_id, Action.SHELVE, body.reason, timedelta(minutes=body.minutes))


@router.post("/api/v1/alarms/{alarm_id}/unshelve", response_model=AlarmPublic)
async def unshelve(alarm_id: AlarmId, request: Request, who: Acker, db: Db, key: IdempotencyKey,
                   body: Release | None = None) -> Any:
    """取消搁置 (unshelve)."""
    return await _act(request, db, who, key, alarm_id, Action.UNSHELVE, body.comment if body else "")


@router.post("/api/v1/alarms/{alarm_id}/out-of-service", response_model=AlarmPublic)
async def out_of_service(alarm_id: AlarmId, body: OutOfService, request: Request, who: Acker, db: Db,
                         key: IdempotencyKey) -> Any:
    """停用报警 (out of service for maintenance, with a reason)."""
    return await _act(request, db, who, key, alarm_id, Action.OUT_OF_SERVICE, body.reason)


@router.post("/api/v1/alarms/{alarm_id}/in-service", response_model=AlarmPublic)
async def in_service(alarm_id: AlarmId, request: Request, who: Acker, db: Db, key: IdempotencyKey,
                     body: Release | None = None) -> Any:
    """恢复报警 (back in service)."""
    return await _act(request, db, who, key, alarm_id, Action.IN_SERVICE, body.comment if body else "")


# --- rules ---------------------------------------------------------------------------------------------------

async def _rule_rows(conn: psycopg.AsyncConnection, rule_id: int | None = None) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("SELECT id, code, station, device, metric, kind, limit_value AS limit, deadband, on_delay_s, "
                          "off_delay_s, window_s, match_values, mask, priority, area, message, unit, during, enabled, "
                          "origin, updated_at FROM alarms.rules WHERE (%s::bigint IS NULL OR id = %s) "
                          "ORDER BY station, code", (rule_id, rule_id))
        return list(await cur.fetchall())


def _rule_scope(who: Principal, station: str) -> None:
    if station == "" and who.stations is not None:
        raise HTTPException(403, "全公司规则只能由总部维护 (a rule for every station is kept by head office)")
    _check(who, station or None)


def _checked(spec: RuleSpec) -> None:
    try:
        to_rule(spec)
    except RuleError as exc:
        raise HTTPException(422, f"规则无效 (the rule cannot work): {exc}") from None


@router.get("/api/v1/alarm-rules", response_model=RulePage)
async def list_rules(who: Configurer, db: Db, station: StationQ = None) -> dict[str, Any]:
    """报警规则 (every rule: from config/alarm-rules.yaml and the back office); ``station``: that station's and
    the company-wide ones."""
    _check(who, station)
    async with db.connection() as conn:
        rows = await _rule_rows(conn)
    rows = [r for r in rows if (r["station"] == "" or who.sees(r["station"]))
            and (station is None or r["station"] in ("", station))]
    return {"items": rows, "next_cursor": None, "total": len(rows)}


@router.post("/api/v1/alarm-rules", response_model=RulePublic, status_code=201)
async def create_rule(body: RuleSpec, who: Configurer, db: Db) -> dict[str, Any]:
    """新建报警规则 (a new rule; code unique per station)."""
    _rule_scope(who, body.station)
    _checked(body)
    async with db.connection() as conn, conn.transaction():
        rule_id = await repository.create_rule(conn, body)
        if not rule_id:
            raise HTTPException(409, f"规则 {body.code} 已存在 "
                                     "(a rule with this code exists for this station; edit it)")
        await audit_log.append(conn, who.actor, AuditEntry("alarm.rule.create", f"alarm-rule:{rule_id}",
                                                           body.station or None, None, body.model_dump(mode="json")))
        return (await _rule_rows(conn, rule_id))[0]


@router.put("/api/v1/alarm-rules/{rule_id}", response_model=RulePublic)
async def update_rule(rule_id: RuleId, body: RuleSpec, who: Configurer, db: Db) -> dict[str, Any]:
    """修改报警规则 (change a rule; a rule from the file is then kept as the back office wrote it)."""
    _rule_scope(who, body.station)
    _checked(body)
    async with db.connection() as conn, conn.transaction():
        before = await _rule_rows(conn, rule_id)
        held = before[0]["station"] if before else ""
        if not before or not ((held == "" and who.stations is None) or (held != "" and who.sees(held))):
            raise HTTPException(404, "没有这条规则 (no such rule)")
        try:
            await repository.update_rule(conn, rule_id, body)
        except psycopg.errors.UniqueViolation:
            raise HTTPException(409, f"规则 {body.code} 已存在 (another rule has this code for this station)") from None
        after_row = (await _rule_rows(conn, rule_id))[0]
        await audit_log.append(conn, who.actor, AuditEntry(
            "alarm.rule.update", f"alarm-rule:{rule_id}", body.station or None,
            {k: v for k, v in before[0].items() if k != "updated_at"}, body.model_dump(mode="json")))
        return after_row
