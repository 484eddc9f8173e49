"""The station server's copy of the member list, kept up to date from head office (docs/offline-members.md).

``MemberListSync`` is the one poller of the feed ``GET /api/v1/stations/{station}/member-list?after=`` over
the station server's ``HeadOfficeLink``: every ``every_s`` (30 s), and at once when the link comes back after
being down, it pulls page after page from the seq it holds, each page applied in one unit of work
(``HoldMemberList``). Head office unreachable is not an error here: the link is marked down (every online
provider pauses), the copy stays as it is and serves the offline lookups, and the next pull catches up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import psycopg
from pydantic import ValidationError

from business_services.audit.model import Actor
from business_services.messagebus import MessageBus
from business_services.online_payments.station_client import HeadOfficeDown, HeadOfficeLink
from business_services.station_members import repository
from business_services.station_members.handlers import HoldMemberList
from business_services.unit_of_work import UnitOfWork
from telemetry.contracts.members import ListPage

log = logging.getLogger(__name__)
ACTOR = Actor.system("member list")
PULL_EVERY_S = 30.0


class MemberListSync:
    def __init__(self, database_url: str, link: HeadOfficeLink, bus: MessageBus,
                 stations: Callable[[psycopg.AsyncConnection], Awaitable[list[str]]], *,
                 every_s: float = PULL_EVERY_S, watch_s: float = 0.5) -> None:
        self.database_url, self.link, self.bus, self.stations = database_url, link, bus, stations
        self.every_s, self.watch_s = every_s, watch_s
        self.pulls = 0            # pulls that reached head office (for tests and health)
        self.last_error = ""

    async def pull(self, conn: psycopg.AsyncConnection, station: str) -> int:
        """Pull ``station``'s list from the seq held until no page follows; how many keys changed. Raises
        ``HeadOfficeDown`` when head office cannot be reached (what was applied stays)."""
        changed = 0
        while True:
            after = await repository.held_seq(conn, station)
            status, data = await self.link.call("GET", f"/api/v1/stations/{station}/member-list?after={after}")
            if status != 200:
                self.last_error = f"head office answered {status}: {str(data.get('detail', ''))[:200]}"
                log.warning("member list of %s not pulled: %s", station, self.last_error)
                return changed
            data.pop("_replayed", None)
            try:
                page = ListPage.model_validate(data)
            except ValidationError as exc:
                self.last_error = f"a page head office sent was refused: {exc.error_count()} errors"
                log.warning("member list of %s: %s", station, self.last_error)
                return changed
            async with UnitOfWork(conn, ACTOR) as uow:
                changed += int(await self.bus.handle(HoldMemberList(station, page), uow))
            self.last_error = ""
            if not page.more or page.next_after <= after:
                return changed

    async def pull_all(self) -> int:
        async with await psycopg.AsyncConnection.connect(self.database_url, autocommit=True) as conn:
            changed = 0
            for station in await self.stations(conn):
                changed += await self.pull(conn, station)
        self.pulls += 1
        return changed

    async def run(self) -> None:
        """Pull every ``every_s`` and as soon as a down link comes back, until cancelled."""
        while True:
            with contextlib.suppress(HeadOfficeDown):
                try:
                    changed = await self.pull_all()
                    if changed:
                        log.info("member list: %d changes held", changed)
                except (psycopg.OperationalError, OSError) as exc:
                    log.warning("member list not pulled (database): %s", exc)
            await self._wait()

    async def _wait(self) -> None:
        """Until the next pull is due, or the link comes back up."""
        was_down = self.link.down
        deadline = asyncio.get_running_loop().time() + self.every_s
        while asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(self.watch_s)
            if was_down and not self.link.down:
                return
            was_down = was_down or self.link.down
