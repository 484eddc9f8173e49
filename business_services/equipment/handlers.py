"""Commands on maintenance work orders, one handler each, run in a unit of work; each audited.

``open_work_order`` returns ``(row, created)``: opening one from an alarm that already has an order not done
returns that order and writes nothing (a double click or a retry in the console). ``change_status`` locks the
row, checks the move (``model.check_move``) and writes it; setting the status the order already has (a retry)
writes nothing and records nothing.
"""

from __future__ import annotations

from typing import Any

from business_services.audit.model import AuditEntry
from business_services.equipment import repository, views
from business_services.equipment.model import (
    ChangeWorkOrderStatus,
    OpenWorkOrder,
    Status,
    WorkOrderNotFound,
    check_move,
)
from business_services.messagebus import Handler
from business_services.unit_of_work import UnitOfWork


def _public(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (str(v) if k == "alarm_id" and v is not None else v) for k, v in row.items()
            if k in ("status", "assignee", "note", "equipment", "fault", "alarm_id")}


async def open_work_order(command: OpenWorkOrder, uow: UnitOfWork) -> tuple[dict[str, Any], bool]:
    row = await repository.insert(uow.conn, command)
    if row is None:
        assert command.alarm_id is not None   # noqa: S101 (only the per-alarm constraint skips an insert)
        existing = await views.open_for_alarm(uow.conn, command.alarm_id)
        if existing is None:   # done between the insert and the read: open a new one
            row = await repository.insert(uow.conn, command)
            assert row is not None   # noqa: S101
        else:
            return existing, False
    await uow.audit(AuditEntry("equipment.work_order.open", f"work_order:{row['id']}", command.station,
                               None, _public(row)))
    return row, True


async def change_status(command: ChangeWorkOrderStatus, uow: UnitOfWork) -> dict[str, Any]:
    row = await repository.lock(uow.conn, command.work_order_id)
    if row is None:
        raise WorkOrderNotFound(command.work_order_id)
    assignee = row["assignee"] if command.assignee is None else command.assignee.strip()
    if not check_move(Status(row["status"]), command.status) and assignee == row["assignee"]:
        return row
    changed = await repository.set_status(uow.conn, command, assignee)
    await uow.audit(AuditEntry("equipment.work_order.status", f"work_order:{row['id']}", row["station"],
                               _public(row), _public(changed)))
    return changed


EVENT_HANDLERS: dict[str, list[Handler]] = {}
COMMAND_HANDLERS: dict[type, Handler] = {OpenWorkOrder: open_work_order, ChangeWorkOrderStatus: change_status}
