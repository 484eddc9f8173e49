"""Handlers of the station's members, each ``(command, uow) -> result`` on the station server's bus.

``HoldMemberList`` applies one page of head office's member list to the station's copy (``sync.py`` pulls
the pages): newest seq per key kept, so a page applied twice or late changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from business_services.messagebus import Handler
from business_services.station_members import repository
from business_services.unit_of_work import UnitOfWork
from telemetry.contracts.members import ListPage


@dataclass(frozen=True, slots=True)
class HoldMemberList:
    """Hold one page of the member list head office answered for ``station``."""

    station: str
    page: ListPage


async def hold_member_list(command: HoldMemberList, uow: UnitOfWork) -> int:
    """How many keys changed in the copy."""
    return await repository.hold_page(uow.conn, command.station, command.page)


EVENT_HANDLERS: dict[str, list[Handler]] = {}
COMMAND_HANDLERS: dict[type, Handler] = {HoldMemberList: hold_member_list}
