"""Commands on approval requests: ask, approve, reject, cancel. Each runs in the caller's unit of work,
is audited, and notifies; approving runs the kind's ``on_approved`` in that same unit of work.

Deciding twice the same way (a retried request) changes nothing and returns the request as it is.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from business_services.approvals import registry, repository
from business_services.approvals.model import (
    APPROVED,
    CANCELLED,
    PENDING,
    REJECTED,
    ApprovalRequest,
    Approver,
    NotAllowed,
    NotPending,
    UnknownRequest,
    check_decision,
    reject_comment,
    state,
)
from business_services.audit.model import AuditEntry
from business_services.unit_of_work import UnitOfWork


def _snapshot(r: ApprovalRequest) -> dict[str, Any]:
    return {"kind": r.kind, "status": r.status, "summary": r.summary, "decided_by": r.decided_by,
            "comment": r.comment}


async def request_approval(uow: UnitOfWork, kind: str, station: str | None, summary: str, payload: dict[str, Any],
                           now: datetime | None = None) -> ApprovalRequest:
    """Ask for approval of a change; the change is made by the kind's ``on_approved`` once approved."""
    approval_kind = registry.kind_of(kind)
    at = now or datetime.now(UTC)
    request = ApprovalRequest(uuid.uuid4(), kind, station, summary, payload, uow.actor.name, uow.actor.user_id,
                              PENDING, at, at + approval_kind.ttl)
    await repository.add(uow.conn, request)
    await uow.audit(AuditEntry("approval.request", f"approval:{request.id}", station, None, _snapshot(request)))
    registry.notifier.requested(request, uow)
    return request


async def _locked(uow: UnitOfWork, request_id: uuid.UUID) -> ApprovalRequest:
    request = await repository.get(uow.conn, request_id, lock=True)
    if request is None:
        raise UnknownRequest("没有这个审批申请 (no such approval request)")
    return request


async def _decide(uow: UnitOfWork, request_id: uuid.UUID, who: Approver, outcome: str, comment: str | None,
                  now: datetime | None) -> ApprovalRequest:
    at = now or datetime.now(UTC)
    request = await _locked(uow, request_id)
    if request.status == outcome and request.decided_by == who.username:
        return request                          # a retry of this same decision: nothing changes
    kind = registry.kind_of(request.kind)
    check_decision(kind.rule, request, who, at)
    decided = replace(request, status=outcome, decided_by=who.username, decided_at=at, comment=comment)
    await repository.decide(uow.conn, request_id, outcome, who.username, at, comment)
    action = "approval.approve" if outcome == APPROVED else "approval.reject"
    await uow.audit(AuditEntry(action, f"approval:{request_id}", request.station, _snapshot(request),
                               _snapshot(decided)))
    if outcome == APPROVED:
        await kind.on_approved(decided, uow)
    elif kind.on_closed is not None:
        await kind.on_closed(decided, uow)
    registry.notifier.decided(decided, uow)
    return decided


async def approve(uow: UnitOfWork, request_id: uuid.UUID, who: Approver, comment: str | None = None,
                  now: datetime | None = None) -> ApprovalRequest:
    return await _decide(uow, request_id, who, APPROVED, (comment or "").strip() or None, now)


async def reject(uow: UnitOfWork, request_id: uuid.UUID, who: Approver, comment: str | None,
                 now: datetime | None = None) -> ApprovalRequest:
    return await _decide(uow, request_id, who, REJECTED, reject_comment(comment), now)


async def cancel(uow: UnitOfWork, request_id: uuid.UUID, now: datetime | None = None) -> ApprovalRequest:
    """The requester withdraws a pending request (a retry of a cancel changes nothing)."""
    at = now or datetime.now(UTC)
    request = await _locked(uow, request_id)
    if request.requested_by != uow.actor.name:
        raise NotAllowed("只有申请人可以撤回申请 (only the requester can cancel a request)")
    if request.status == CANCELLED:
        return request
    current = state(request, at)
    if current != PENDING:
        raise NotPending(f"申请已是 {current} 状态，不能撤回 (the request is already {current})")
    cancelled = replace(request, status=CANCELLED, decided_by=uow.actor.name, decided_at=at)
    await repository.decide(uow.conn, request_id, CANCELLED, uow.actor.name, at, None)
    await uow.audit(AuditEntry("approval.cancel", f"approval:{request_id}", request.station, _snapshot(request),
                               _snapshot(cancelled)))
    on_closed = registry.kind_of(request.kind).on_closed
    if on_closed is not None:
        await on_closed(cancelled, uow)
    registry.notifier.decided(cancelled, uow)
    return cancelled
