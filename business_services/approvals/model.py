"""Pure rules of approvals: a request's states, who may decide it, and when it has expired.

A request is ``pending`` until an approver approves or rejects it, the requester cancels it, or it
expires (``expires_at`` passed: it counts as ``expired`` from then on, whether or not a job has
written that down). Who may decide is the kind's ``Rule``: a permission, the request's station within
the approver's scope (a request of no station needs an approver of every station), and never the
person who asked.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from business_services.unit_of_work import UnitOfWork

PENDING, APPROVED, REJECTED, EXPIRED, CANCELLED = "pending", "approved", "rejected", "expired", "cancelled"
STATES = (PENDING, APPROVED, REJECTED, EXPIRED, CANCELLED)


@dataclass(frozen=True, slots=True)
class Rule:
    """Who may decide: holders of ``permission`` whose stations include the request's."""

    permission: str


@dataclass(frozen=True, slots=True)
class ApprovalRequest:
    id: uuid.UUID
    kind: str
    station: str | None
    summary: str                 # one line for the inbox, Chinese, e.g. "92# 调价 7.36 → 7.58 元/升"
    payload: dict[str, Any]      # what the domain needs to carry the change out once approved
    requested_by: str
    requested_by_id: int | None
    status: str                  # as stored; see ``state`` for what it is now
    created_at: datetime
    expires_at: datetime
    decided_by: str | None = None
    decided_at: datetime | None = None
    comment: str | None = None


OnApproved = Callable[[ApprovalRequest, "UnitOfWork"], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class ApprovalKind:
    """What a domain plugs in: its kind's name, the rule, how long a request waits, and what approval does.

    ``on_approved`` runs in the approver's unit of work: the change and the decision commit together.
    ``on_closed`` (optional) runs when a request ends without approval (rejected or withdrawn), in that unit
    of work, for a domain that holds something back while it waits (a make-up order waiting to be payable).
    """

    name: str                    # dotted, e.g. price.change
    title: str                   # Chinese, for the inbox
    rule: Rule
    on_approved: OnApproved
    ttl: timedelta = timedelta(hours=24)
    on_closed: OnApproved | None = None


@dataclass(frozen=True, slots=True)
class Approver:
    username: str
    permissions: frozenset[str]
    stations: frozenset[str] | None     # None: every station


def state(request: ApprovalRequest, now: datetime) -> str:
    """The request's state at ``now``: a pending request past its expiry is expired."""
    if request.status == PENDING and request.expires_at <= now:
        return EXPIRED
    return request.status


def may_decide(rule: Rule, request: ApprovalRequest, who: Approver) -> bool:
    in_scope = who.stations is None or (request.station is not None and request.station in who.stations)
    return rule.permission in who.permissions and in_scope and who.username != request.requested_by


class ApprovalError(Exception):
    """A request that cannot be acted on; the message says why (Chinese, then English)."""


class UnknownRequest(ApprovalError):
    pass


class NotAllowed(ApprovalError):
    """This person may not do this to this request."""


class NotPending(ApprovalError):
    """The request has been decided, cancelled or has expired."""


def check_decision(rule: Rule, request: ApprovalRequest, who: Approver, now: datetime) -> None:
    """Raise unless ``who`` may decide ``request`` now."""
    if who.username == request.requested_by:
        raise NotAllowed("不能审批自己提交的申请 (you cannot decide your own request; another approver must)")
    if not may_decide(rule, request, who):
        raise NotAllowed(f"无权审批此申请，需要权限 {rule.permission} 且站点在您的范围内 (you may not decide this "
                         f"request: it needs {rule.permission} and its station in your scope)")
    current = state(request, now)
    if current == EXPIRED:
        raise NotPending("申请已过期，请申请人重新提交 (the request has expired; the requester must ask again)")
    if current != PENDING:
        raise NotPending(f"申请{LABELS[current]}，不能再审批 (the request is already {current})")


def reject_comment(comment: str | None) -> str:
    """A rejection must say why."""
    text = (comment or "").strip()
    if not text:
        raise ValueError("驳回时请填写原因 (say why you reject it: a comment is required)")
    return text


LABELS = {PENDING: "待审批", APPROVED: "已批准", REJECTED: "已驳回", EXPIRED: "已过期", CANCELLED: "已撤回"}
