"""The pure rules of maintenance work orders: required text, the status moves, a repeat changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from business_services.equipment.model import (
    ChangeWorkOrderStatus,
    OpenWorkOrder,
    Status,
    WorkOrderConflict,
    WorkOrderError,
    check_move,
)

AT = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)


def test_opening_needs_the_equipment_and_the_fault_trimmed() -> None:
    order = OpenWorkOrder("demo-01", "  lel-02 ", " 探头读数漂移 ", "wang", AT)
    assert (order.equipment, order.fault) == ("lel-02", "探头读数漂移")
    with pytest.raises(WorkOrderError) as missing:
        OpenWorkOrder("demo-01", "lel-02", "   ", "wang", AT)
    assert missing.value.field == "fault" and "请填写故障描述" in missing.value.message
    with pytest.raises(WorkOrderError) as long_name:
        OpenWorkOrder("demo-01", "x" * 65, "坏了", "wang", AT)
    assert long_name.value.field == "equipment"
    with pytest.raises(WorkOrderError) as assignee:
        OpenWorkOrder("demo-01", "lel-02", "坏了", "wang", AT, assignee="李" * 65)
    assert assignee.value.field == "assignee"


@pytest.mark.parametrize(("current", "wanted", "changes"), [
    (Status.OPEN, Status.IN_PROGRESS, True), (Status.OPEN, Status.DONE, True),
    (Status.IN_PROGRESS, Status.DONE, True), (Status.OPEN, Status.OPEN, False), (Status.DONE, Status.DONE, False),
])
def test_allowed_moves(current: Status, wanted: Status, changes: bool) -> None:
    assert check_move(current, wanted) is changes


@pytest.mark.parametrize(("current", "wanted"), [
    (Status.DONE, Status.OPEN), (Status.DONE, Status.IN_PROGRESS), (Status.IN_PROGRESS, Status.OPEN)])
def test_a_move_back_is_refused_with_what_it_is(current: Status, wanted: Status) -> None:
    with pytest.raises(WorkOrderConflict) as refused:
        check_move(current, wanted)
    assert refused.value.field == "status" and "不能改为" in refused.value.message


def test_a_long_note_is_refused() -> None:
    with pytest.raises(WorkOrderError) as refused:
        ChangeWorkOrderStatus(1, Status.DONE, "wang", AT, note="好" * 501)
    assert refused.value.field == "note"
