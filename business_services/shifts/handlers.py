"""Handlers of the shifts context: one function per command or event, each ``(message, uow) -> result``."""

from __future__ import annotations

from business_services.audit.model import AuditEntry
from business_services.messagebus import Handler
from business_services.numbers import Kind, next_number
from business_services.shifts import repository, views
from business_services.shifts.model import OpenShift, ShiftRuleError
from business_services.unit_of_work import UnitOfWork

ALREADY_OPEN = "本站已有未交班的班次，请先交班 (the station has an open shift; hand it over first)"


async def open_shift(command: OpenShift, uow: UnitOfWork) -> str:
    """The new shift's number; refused while the station has a shift open."""
    if await views.open_shift(uow.conn, command.station) is not None:
        raise ShiftRuleError(ALREADY_OPEN)
    shift_no = await next_number(uow.conn, command.station, Kind.SHIFT, command.at)
    if not await repository.open_shift(uow.conn, shift_no, command):
        raise ShiftRuleError(ALREADY_OPEN)
    await uow.audit(AuditEntry("shift.open", shift_no, command.station, None, {"by": command.by}))
    return shift_no


EVENT_HANDLERS: dict[str, list[Handler]] = {}
COMMAND_HANDLERS: dict[type, Handler] = {OpenShift: open_shift}
