"""The approval kinds domains plug in, and how people are told about requests and decisions.

A domain registers its kind once, at import of its handlers::

    registry.register(ApprovalKind("price.change", "调价", Rule("price:approve"), apply_price_change))

Notifications go through ``notifier`` (an ``OutboxNotifier`` by default: ``approval.requested`` and
``approval.decided`` events published after commit, for the message centre or a WeCom bot to pick up).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from business_services.approvals.model import ApprovalKind, ApprovalRequest, UnknownRequest
from telemetry.contracts.events import CloudEvent
from telemetry.contracts.topics import event_topic

if TYPE_CHECKING:
    from business_services.unit_of_work import UnitOfWork

KINDS: dict[str, ApprovalKind] = {}
HEAD_OFFICE = "head-office"    # the station level of the topic of a company-wide request's events


def register(kind: ApprovalKind) -> ApprovalKind:
    existing = KINDS.get(kind.name)
    if existing is not None and existing != kind:
        raise ValueError(f"approval kind {kind.name} is registered twice, differently")
    KINDS[kind.name] = kind
    return kind


def kind_of(name: str) -> ApprovalKind:
    try:
        return KINDS[name]
    except KeyError:
        raise UnknownRequest(f"未知的审批类型 {name} (no approval kind {name} is registered)") from None


class Notifier(Protocol):
    def requested(self, request: ApprovalRequest, uow: UnitOfWork) -> None: ...
    def decided(self, request: ApprovalRequest, uow: UnitOfWork) -> None: ...


class OutboxNotifier:
    """Emit the events through the unit of work's outbox: published only if the change commits."""

    def __init__(self, group: str = "demo-co") -> None:
        self.group = group

    def _emit(self, event_type: str, request: ApprovalRequest, uow: UnitOfWork) -> None:
        station = request.station or HEAD_OFFICE
        data = {"id": str(request.id), "kind": request.kind, "station": request.station, "summary": request.summary,
                "status": request.status, "requested_by": request.requested_by, "decided_by": request.decided_by,
                "comment": request.comment}
        uow.emit(event_topic(self.group, station, event_type),
                 CloudEvent(source="business/approvals", type=event_type, subject=str(request.id), data=data))

    def requested(self, request: ApprovalRequest, uow: UnitOfWork) -> None:
        self._emit("approval.requested", request, uow)

    def decided(self, request: ApprovalRequest, uow: UnitOfWork) -> None:
        self._emit("approval.decided", request, uow)


notifier: Notifier = OutboxNotifier()
