"""Pure rules of maintenance work orders: the commands and what makes them valid (no I/O).

A work order moves ``open`` → ``in_progress`` → ``done`` (or straight from ``open`` to ``done``); ``done`` is
final. Setting the status it already has changes nothing (a retried request).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Status(StrEnum):
    OPEN = "open"                 # 待处理
    IN_PROGRESS = "in_progress"   # 处理中
    DONE = "done"                 # 已完成


#: status → the statuses it may move to
NEXT: dict[Status, frozenset[Status]] = {
    Status.OPEN: frozenset({Status.IN_PROGRESS, Status.DONE}),
    Status.IN_PROGRESS: frozenset({Status.DONE}),
    Status.DONE: frozenset(),
}
STATUS_NAMES = {Status.OPEN: "待处理", Status.IN_PROGRESS: "处理中", Status.DONE: "已完成"}


class WorkOrderError(ValueError):
    """A command that breaks a rule (422); ``field`` names what to fix, the message says how (Chinese first)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class WorkOrderConflict(WorkOrderError):
    """The work order's status refuses the change (409)."""


class WorkOrderNotFound(LookupError):
    """No such work order (404)."""


def _text(field: str, value: str, label: str, most: int) -> str:
    value = value.strip()
    if not value:
        raise WorkOrderError(field, f"请填写{label} ({field} is required)")
    if len(value) > most:
        raise WorkOrderError(field, f"{label}最多 {most} 个字 ({field}: at most {most} characters)")
    return value


@dataclass(frozen=True, slots=True)
class OpenWorkOrder:
    station: str
    equipment: str
    fault: str
    by: str
    at: datetime
    alarm_id: uuid.UUID | None = None
    assignee: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "equipment", _text("equipment", self.equipment, "设备", 64))
        object.__setattr__(self, "fault", _text("fault", self.fault, "故障描述", 500))
        if len(self.assignee) > 64:
            raise WorkOrderError("assignee", "维修人最多 64 个字 (assignee: at most 64 characters)")


@dataclass(frozen=True, slots=True)
class ChangeWorkOrderStatus:
    work_order_id: int
    status: Status
    by: str
    at: datetime
    note: str = ""
    assignee: str | None = None     # None: unchanged

    def __post_init__(self) -> None:
        if len(self.note) > 500:
            raise WorkOrderError("note", "说明最多 500 个字 (note: at most 500 characters)")
        if self.assignee is not None and len(self.assignee) > 64:
            raise WorkOrderError("assignee", "维修人最多 64 个字 (assignee: at most 64 characters)")


def check_move(current: Status, wanted: Status) -> bool:
    """Whether moving ``current`` → ``wanted`` changes anything; ``WorkOrderConflict`` if it may not happen."""
    if current == wanted:
        return False
    if wanted not in NEXT[current]:
        raise WorkOrderConflict("status", f"工单{STATUS_NAMES[current]}，不能改为{STATUS_NAMES[wanted]} "
                                          f"(a work order that is {current} cannot become {wanted})")
    return True
