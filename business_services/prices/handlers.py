"""Commands and events of prices at head office, one handler each, run in a unit of work. docs/prices.md.

    RequestPriceChange ─ within the limits ─▶ due? ─ yes ─▶ send: a new set version per station, emitted as
                       │                          └ no ──▶ scheduled (a job at its time + the minute sweep)
                       └ over a limit ─▶ awaiting_approval (approval kind price.change) ─ approved ─▶ as above
                                                                                       └ rejected / withdrawn
    price.applied (per nozzle) ─▶ the nozzle's state under that version; every nozzle applied ─▶ in force

Every change, decision, cancel, policy edit and rule edit is in the audit chain. A set goes down as
``command.replace_price_set`` on the station's command topic with the id ``price-set/{station}/{version}``:
sending a change is a conditional move of its state (``scheduled → sent``), so a second sender sends nothing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import psycopg

from business_services.approvals import handlers as approvals
from business_services.approvals import registry
from business_services.approvals.model import CANCELLED, ApprovalKind, ApprovalRequest, NotPending, Rule
from business_services.audit.model import AuditEntry
from business_services.messagebus import Handler
from business_services.prices import repository, views
from business_services.prices.model import (
    Conflict,
    Line,
    NotFound,
    NozzleKey,
    NozzleRequest,
    Policy,
    PriceError,
    SetNozzle,
    business_day,
    check_limits,
    check_policy,
    check_price,
    check_reason,
    first_sets,
    newer_report,
    next_set,
    plan_lines,
    set_state,
    summary,
    unit_of,
)
from business_services.unit_of_work import UnitOfWork
from telemetry.contracts.commands import command_topic
from telemetry.contracts.events import CloudEvent
from telemetry.contracts.prices import NozzlePrice, PriceApplied, PriceSet

SOURCE = "forecourt/head-office/prices"
APPROVAL_KIND = "price.change"
SEND_TASK = "send_due_price_changes"     # business_services/jobs: the job that sends due changes
JOB_QUEUE = "housekeeping"               # business_services/jobs.QUEUE


# --- commands -----------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class RequestPriceChange:
    group: str                                     # the operating company (its policy)
    stations: tuple[str, ...]
    grades: dict[str, int]
    nozzles: tuple[NozzleRequest, ...] = ()
    effective_at: datetime | None = None           # None: at once
    reason: str = ""
    now: datetime | None = None
    units: tuple[str, ...] = ()                    # regions (org units): their stations in ``scope`` join in
    scope: frozenset[str] | None = None            # the requester's stations (None: every station)


@dataclass(frozen=True, slots=True)
class CancelPriceChange:
    change_no: str
    now: datetime | None = None


@dataclass(frozen=True, slots=True)
class SendDuePriceChanges:
    """Send every scheduled change whose time has come (the job and the minute sweep)."""

    now: datetime | None = None


@dataclass(frozen=True, slots=True)
class SetPricePolicy:
    group: str
    step_fen: int
    step_pct: Decimal
    day_fen: int


@dataclass(frozen=True, slots=True)
class SeedPriceSet:
    """A station's first set (version 1) from grade prices, when it has none: the demo and a new station."""

    group: str
    station: str
    grades: dict[str, int]
    reason: str = "初始价格 (initial prices)"


@dataclass(frozen=True, slots=True)
class AddPriceRule:
    group: str
    kind: str
    stations: tuple[str, ...] | None
    grade: str | None
    params: dict[str, Any]
    valid_from: datetime
    valid_to: datetime | None
    note: str = ""


@dataclass(frozen=True, slots=True)
class EndPriceRule:
    group: str
    rule_id: int
    now: datetime | None = None


@dataclass(frozen=True, slots=True)
class Plan:
    """A change worked out: its lines marked against the limits, and why it needs approval (empty: it does not)."""

    lines: list[Line]
    why: list[str]
    policy: Policy
    nozzles_affected: int = 0
    stations: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)   # what the preview says besides the limits (first sets …)

    @property
    def needs_approval(self) -> bool:
        return bool(self.why)


# --- planning (also the preview) ------------------------------------------------------------------------

async def plan(conn: psycopg.AsyncConnection, cmd: RequestPriceChange) -> Plan:
    """The change's lines, checked against the company's limits, and how many nozzles it moves."""
    at = cmd.now or datetime.now(UTC)
    if cmd.effective_at is not None and cmd.effective_at.tzinfo is None:
        raise PriceError("effective_at", "生效时间须带时区 (effective_at needs a time zone, e.g. +08:00)")
    named = list(dict.fromkeys(cmd.stations))
    from_units = [] if not cmd.units else await views.stations_of_units(conn, cmd.units, cmd.scope)
    if not named and not from_units:
        raise PriceError("stations", "请选择至少一个站点或区域 (choose at least one station or region)")
    current = await views.current(conn, [*named, *(s for s in from_units if s not in named)])
    stations, notes = first_sets(named, from_units, cmd.grades, current)
    if not stations:
        raise PriceError("units", "所选区域的站点都还没有价格，请先逐站首次定价 (no station of the regions has "
                                  "prices yet: set each one's first prices on its own)")
    lines = plan_lines(stations, cmd.grades, cmd.nozzles, current)
    policy = await repository.policy(conn, cmd.group)
    when = cmd.effective_at if cmd.effective_at is not None and cmd.effective_at > at else at
    moved = await repository.moved_today(conn, stations, business_day(when))
    marked, why = check_limits(lines, policy, moved)
    affected = 0
    for station in stations:
        previous = await repository.newest_set(conn, station)
        before = previous[2] if previous else {}
        _, priced = next_set(previous[1] if previous else {}, before, current[station].nozzles,
                             [ln for ln in marked if ln.station == station])
        affected += sum(1 for n in priced if n != before.get(NozzleKey(n.device, n.fuelling_point, n.nozzle)))
    notes += [f"{ln.station} {ln.grade}: 原来没有价格，调价限额不适用 (no old price: the limits do not apply)"
              for ln in marked if ln.old_price_fen is None and current[ln.station].has_set]
    return Plan(marked, why, policy, affected, [s for s in stations if any(ln.station == s for ln in marked)],
                notes)


def _change_json(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else str(v) if k == "approval_id" and v else v)
            for k, v in row.items() if k in ("state", "stations", "effective_at", "reason", "requested_by",
                                             "approved_by", "approval_id", "sent_at", "cancelled_by")}


async def request_change(cmd: RequestPriceChange, uow: UnitOfWork) -> dict[str, Any]:
    """Record the change; within the limits it is sent (due) or scheduled, over them it waits for approval."""
    at = cmd.now or datetime.now(UTC)
    reason = check_reason(cmd.reason)
    worked = await plan(uow.conn, cmd)
    change_no = await repository.next_change_no(uow.conn, at)
    state = "awaiting_approval" if worked.needs_approval else "scheduled"
    await repository.insert_change(uow.conn, change_no=change_no, group=cmd.group, state=state,
                                   stations=worked.stations, effective_at=cmd.effective_at, reason=reason,
                                   requested_by=uow.actor.name, requested_at=at, lines=worked.lines,
                                   units=list(dict.fromkeys(cmd.units)))
    station = worked.stations[0] if len(worked.stations) == 1 else None
    after = {"change_no": change_no, "state": state, "stations": worked.stations, "units": list(cmd.units),
             "reason": reason,
             "effective_at": None if cmd.effective_at is None else cmd.effective_at.isoformat(),
             "lines": [asdict(ln) for ln in worked.lines], "why": worked.why}
    await uow.audit(AuditEntry("prices.change.request", f"price-change:{change_no}", station, None, after))
    if worked.needs_approval:   # a change of several stations needs an approver of every one (approvals engine)
        request = await approvals.request_approval(uow, APPROVAL_KIND, station, summary(worked.lines),
                                                   {"change_no": change_no}, now=at)
        await repository.set_approval(uow.conn, change_no, request.id, request.expires_at)
    else:
        await _go_ahead(uow, change_no, at)
    return await _answer(uow, change_no)


async def _answer(uow: UnitOfWork, change_no: str) -> dict[str, Any]:
    detail = await views.change_detail(uow.conn, change_no)
    if detail is None:
        raise NotFound(f"没有调价单 {change_no} (no price change {change_no})")
    return {"change_no": change_no, "state": detail["state"],
            "approval_id": None if detail["approval_id"] is None else str(detail["approval_id"]),
            "effective_at": detail["effective_at"], "stations": detail["versions"]}


async def _go_ahead(uow: UnitOfWork, change_no: str, at: datetime) -> None:
    """A change cleared to happen (within the limits, or approved): sent now if due, else left scheduled with a
    job at its time (the minute sweep sends it too, should the job be lost)."""
    row = await repository.change(uow.conn, change_no, lock=True)
    if row is None:
        raise NotFound(f"没有调价单 {change_no} (no price change {change_no})")
    if row["effective_at"] is None or row["effective_at"] <= at:
        await _send(uow, row, at)
    else:
        await repository.defer_send(uow.conn, SEND_TASK, JOB_QUEUE, row["effective_at"])


async def _send(uow: UnitOfWork, row: dict[str, Any], at: datetime) -> int:
    """Make each station's next set version from the change's lines and emit it; the change moves to ``sent``
    once (a second sender finds it sent and does nothing). How many sets."""
    change_no = row["change_no"]
    if not await repository.move_change(uow.conn, change_no, ("scheduled",), "sent", sent_at=at):
        return 0
    lines = await repository.lines(uow.conn, change_no)
    effective = row["effective_at"] or at
    sent = 0
    for station in row["stations"]:
        mine = [ln for ln in lines if ln.station == station]
        if not mine:
            continue
        await repository.lock_station(uow.conn, station)
        previous = await repository.newest_set(uow.conn, station)
        version, grades, nozzles = previous if previous else (0, {}, {})
        since = await repository.grade_since(uow.conn, station, version) if previous else {}
        new_grades, priced = next_set(grades, nozzles, await views.station_nozzles(uow.conn, station), mine)
        for grade, price in new_grades.items():
            if grades.get(grade) != price:
                since[grade] = effective
        group = await views.company_of(uow.conn, station, row["company_group"])
        await repository.insert_set(uow.conn, station=station, version=version + 1, group=group, change_no=change_no,
                                    effective_at=effective, reason=row["reason"], requested_by=row["requested_by"],
                                    approved_by=row["approved_by"], grades=new_grades, since=since, nozzles=priced)
        emit_set(uow, group, station, version + 1, effective, new_grades, priced, change_no, row["reason"])
        sent += 1
    await uow.audit(AuditEntry("prices.change.send", f"price-change:{change_no}",
                               row["stations"][0] if len(row["stations"]) == 1 else None,
                               {"state": row["state"]}, {"state": "sent", "sent_at": at.isoformat()}))
    return sent


def emit_set(uow: UnitOfWork, group: str, station: str, version: int, effective: datetime, grades: dict[str, int],
             priced: list[SetNozzle], change_no: str | None, reason: str) -> None:
    """Emit one station's set on its command topic; the event id names the version (a repeat is one message)."""
    payload = PriceSet(station=station, version=version, effective_at=effective, grades=grades,
                       units={g: unit_of(g) for g in grades},
                       nozzles=[NozzlePrice(device=n.device, fuelling_point=n.fuelling_point, nozzle=n.nozzle,
                                            grade=n.grade, price_fen=n.price_fen) for n in priced],
                       change_no=change_no or "", reason=reason[:200])
    event = payload.envelope(source=SOURCE, subject=station, event_id=payload.event_id())
    uow.emit(command_topic(group, station, PriceSet.TYPE), event)


async def send_due(cmd: SendDuePriceChanges, uow: UnitOfWork) -> int:
    """Every scheduled change whose time has come, sent (locked: another sender skips it); first, changes whose
    approval expired unanswered are rejected. How many sets."""
    at = cmd.now or datetime.now(UTC)
    for change_no, stations in await repository.expire_unanswered(uow.conn, at):
        await uow.audit(AuditEntry("prices.change.expire", f"price-change:{change_no}",
                                   stations[0] if len(stations) == 1 else None, {"state": "awaiting_approval"},
                                   {"state": "rejected", "why": "审批超时未处理 (the approval expired unanswered)"}))
    sent = 0
    for change_no in await repository.due_changes(uow.conn, at):
        row = await repository.change(uow.conn, change_no, lock=True)
        if row is not None:
            sent += await _send(uow, row, at)
    return sent


async def cancel_change(cmd: CancelPriceChange, uow: UnitOfWork) -> dict[str, Any]:
    """Cancel a scheduled change, or withdraw one awaiting approval (its requester only); a sent change stays."""
    at = cmd.now or datetime.now(UTC)
    row = await repository.change(uow.conn, cmd.change_no, lock=True)
    if row is None:
        raise NotFound(f"没有调价单 {cmd.change_no} (no price change {cmd.change_no})")
    if row["state"] == "cancelled":
        return await _answer(uow, cmd.change_no)
    if row["state"] == "awaiting_approval":
        if row["requested_by"] != uow.actor.name:
            raise Conflict("待审批的调价只能由申请人撤回，或由审批人驳回 (a change awaiting approval is withdrawn by "
                           "its requester, or rejected by an approver)")
        await approvals.cancel(uow, row["approval_id"], now=at)     # runs _closed: the change is cancelled
        return await _answer(uow, cmd.change_no)
    if not await repository.move_change(uow.conn, cmd.change_no, ("scheduled",), "cancelled",
                                        cancelled_by=uow.actor.name, cancelled_at=at):
        raise Conflict(f"调价单已是 {row['state']} 状态，不能撤销；如需恢复请再提交一次调价 "
                       f"(the change is {row['state']}: it cannot be cancelled; request a new change instead)")
    await uow.audit(AuditEntry("prices.change.cancel", f"price-change:{cmd.change_no}", None,
                               _change_json(row), {"state": "cancelled", "cancelled_by": uow.actor.name}))
    return await _answer(uow, cmd.change_no)


# --- approval ---------------------------------------------------------------------------------------------

async def _approved(request: ApprovalRequest, uow: UnitOfWork) -> None:
    change_no = str(request.payload["change_no"])
    at = request.decided_at or datetime.now(UTC)
    row = await repository.change(uow.conn, change_no, lock=True)
    if row is None or not await repository.move_change(uow.conn, change_no, ("awaiting_approval",), "scheduled",
                                                       approved_by=request.decided_by, decided_at=at):
        raise NotPending(f"调价单 {change_no} 已不在待审批状态 (price change {change_no} no longer awaits approval)")
    await uow.audit(AuditEntry("prices.change.approve", f"price-change:{change_no}", request.station,
                               {"state": "awaiting_approval"}, {"state": "scheduled",
                                                                 "approved_by": request.decided_by}))
    await _go_ahead(uow, change_no, at)


async def _closed(request: ApprovalRequest, uow: UnitOfWork) -> None:
    change_no = str(request.payload["change_no"])
    at = request.decided_at or datetime.now(UTC)
    to = "cancelled" if request.status == CANCELLED else "rejected"
    extra = {"cancelled_by": request.decided_by, "cancelled_at": at} if to == "cancelled" else {"decided_at": at}
    if await repository.move_change(uow.conn, change_no, ("awaiting_approval",), to, **extra):
        await uow.audit(AuditEntry(f"prices.change.{'cancel' if to == 'cancelled' else 'reject'}",
                                   f"price-change:{change_no}", request.station, {"state": "awaiting_approval"},
                                   {"state": to, "by": request.decided_by, "comment": request.comment}))


PRICE_CHANGE = registry.register(ApprovalKind(APPROVAL_KIND, "调价", Rule("price:write"), _approved,
                                              on_closed=_closed))


# --- what the stations report ------------------------------------------------------------------------------

async def price_applied(event: CloudEvent, uow: UnitOfWork) -> bool:
    """One nozzle's state under one version: kept once by event id; the nozzle's state moves only to a newer
    report (reordered deliveries change nothing); every nozzle applied puts the set in force; a refusal is
    audited (an alarm-worthy event: the change is partly applied)."""
    report = PriceApplied.from_event(event)
    if not await repository.record_report(uow.conn, event.id, report):
        return False
    held = await repository.nozzle_state(uow.conn, report)
    if held is None or not newer_report(report.state, report.attempt, report.at, *held):
        return True
    await repository.put_nozzle_state(uow.conn, report)
    target = f"{report.station}/{report.device}/fp{report.fuelling_point}/n{report.nozzle}"
    if report.state == "refused" and held[0] != "refused":
        await uow.audit(AuditEntry("prices.nozzle.refused", target, report.station,
                                   {"version": report.version, "state": held[0]},
                                   {"version": report.version, "state": "refused", "price_fen": report.price_fen,
                                    "detail": report.detail, "attempt": report.attempt}))
    states = await repository.set_nozzle_states(uow.conn, report.station, report.version)
    if all(s == "applied" for s in states) and await repository.mark_in_force(
            uow.conn, report.station, report.version, report.at):
        await uow.audit(AuditEntry("prices.set.in_force", f"price-set:{report.station}/{report.version}",
                                   report.station, {"state": set_state(states, None)}, {"state": "in_force"}))
    return True


# --- policy, first sets and rules -------------------------------------------------------------------------

async def set_policy(cmd: SetPricePolicy, uow: UnitOfWork) -> dict[str, Any]:
    after = check_policy(cmd.step_fen, cmd.step_pct, cmd.day_fen)
    before = await repository.policy(uow.conn, cmd.group)
    if before != after:
        await repository.put_policy(uow.conn, cmd.group, after, uow.actor.name)
        await uow.audit(AuditEntry("prices.policy.set", f"price-policy:{cmd.group}", None, _policy_json(before),
                                   _policy_json(after)))
    return _policy_json(after)


def _policy_json(p: Policy) -> dict[str, Any]:
    return {"step_fen": p.step_fen, "step_pct": float(p.step_pct), "day_fen": p.day_fen}


async def seed_set(cmd: SeedPriceSet, uow: UnitOfWork) -> int | None:
    """Version 1 of a station that has no set yet, emitted; None when it has one (seeding again changes nothing)."""
    for grade, price in cmd.grades.items():
        check_price(price, f"grades.{grade}")
    await repository.lock_station(uow.conn, cmd.station)
    if await repository.newest_set(uow.conn, cmd.station) is not None:
        return None
    at = datetime.now(UTC)
    grades, priced = next_set({}, {}, await views.station_nozzles(uow.conn, cmd.station),
                              [Line(cmd.station, g, None, p) for g, p in cmd.grades.items()])
    group = await views.company_of(uow.conn, cmd.station, cmd.group)
    await repository.insert_set(uow.conn, station=cmd.station, version=1, group=group, change_no=None,
                                effective_at=at, reason=cmd.reason, requested_by=uow.actor.name, approved_by=None,
                                grades=grades, since={}, nozzles=priced)
    await uow.audit(AuditEntry("prices.set.seed", f"price-set:{cmd.station}/1", cmd.station, None,
                               {"grades": grades}))
    emit_set(uow, group, cmd.station, 1, at, grades, priced, None, cmd.reason)
    return 1


async def add_rule(cmd: AddPriceRule, uow: UnitOfWork) -> int:
    from business_services.prices.resolution import check_rule
    params = check_rule(cmd.kind, cmd.params)
    if cmd.valid_to is not None and cmd.valid_to <= cmd.valid_from:
        raise PriceError("valid_to", "结束时间须晚于开始时间 (valid_to is after valid_from)")
    stations = None if cmd.stations is None else sorted(set(cmd.stations))
    rule_id = await repository.add_rule(uow.conn, group=cmd.group, kind=cmd.kind, stations=stations, grade=cmd.grade,
                                        params=params, valid_from=cmd.valid_from, valid_to=cmd.valid_to,
                                        note=cmd.note, who=uow.actor.name)
    await uow.audit(AuditEntry("prices.rule.add", f"price-rule:{rule_id}", None, None,
                               {"kind": cmd.kind, "stations": stations, "grade": cmd.grade, "params": params,
                                "valid_from": cmd.valid_from.isoformat(),
                                "valid_to": None if cmd.valid_to is None else cmd.valid_to.isoformat(),
                                "note": cmd.note}))
    return rule_id


async def end_rule(cmd: EndPriceRule, uow: UnitOfWork) -> None:
    at = cmd.now or datetime.now(UTC)
    row = await repository.rule(uow.conn, cmd.rule_id, lock=True)
    if row is None or row["company_group"] != cmd.group:
        raise NotFound(f"没有特殊价格规则 {cmd.rule_id} (no price rule {cmd.rule_id})")
    if row["valid_to"] is not None and row["valid_to"] <= at:
        return                                  # already ended: a retry changes nothing
    await repository.end_rule(uow.conn, cmd.rule_id, at, uow.actor.name)
    await uow.audit(AuditEntry("prices.rule.end", f"price-rule:{cmd.rule_id}", None,
                               {"valid_to": None if row["valid_to"] is None else row["valid_to"].isoformat()},
                               {"valid_to": at.isoformat()}))


EVENT_HANDLERS: dict[str, list[Handler]] = {PriceApplied.TYPE: [price_applied]}
COMMAND_HANDLERS: dict[type, Handler] = {
    RequestPriceChange: request_change, CancelPriceChange: cancel_change, SendDuePriceChanges: send_due,
    SetPricePolicy: set_policy, SeedPriceSet: seed_set, AddPriceRule: add_rule, EndPriceRule: end_rule,
}
